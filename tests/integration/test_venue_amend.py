"""OrderCancelReplaceRequest, OrderStatusRequest and OrderMassCancelRequest over FIX."""

from __future__ import annotations

import json

import pytest

from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    FAR_ABOVE,
    FAR_BELOW,
    FixTestClient,
    field,
    utc_timestamp,
)

pytestmark = pytest.mark.integration


def _replace(client: FixTestClient, cl_ord_id: str, orig: str, *, qty: int, price: float) -> None:
    client.send(
        "G",
        [
            (50, "oms-a"),
            (11, cl_ord_id),
            (41, orig),
            (55, "BTC-USD"),
            (54, 1),
            (60, utc_timestamp()),
            (38, qty),
            (40, 2),
            (44, price),
        ],
    )


async def _rest(client: FixTestClient, cl_ord_id: str, *, symbol: str = "BTC-USD", qty: int = 10) -> None:
    client.new_order(cl_ord_id, price=FAR_BELOW, symbol=symbol, qty=qty)
    assert field(await client.expect("8"), 150) == "0"


async def test_replace_changes_quantity_price_and_clordid(venue: Venue, client: FixTestClient) -> None:
    await _rest(client, "oms-a-1-1")
    _replace(client, "oms-a-1-2", "oms-a-1-1", qty=20, price=2.0)
    replaced = await client.expect("8")
    assert [field(replaced, tag) for tag in (150, 39, 11, 41, 38, 44, 151, 57)] == [
        "5",
        "0",
        "oms-a-1-2",
        "oms-a-1-1",
        "20",
        "2",
        "20",
        "oms-a",
    ]
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-2")
    assert order is not None
    assert (order.qty, order.price, order.events[-1].exec_type.value) == (20, 2.0, "replaced")
    lines = [json.loads(line) for line in venue.config.ledger_path.read_text().splitlines()]
    assert [line["requested_by"] for line in lines if line["kind"] == "replace"] == ["OMS-A"]
    client.cancel("oms-a-1-3", "oms-a-1-2")
    canceled = await client.expect("8")
    assert [field(canceled, tag) for tag in (150, 41)] == ["4", "oms-a-1-2"]


async def test_replace_to_a_marketable_price_fills(venue: Venue, client: FixTestClient) -> None:
    await _rest(client, "oms-a-1-1")
    venue.step()
    assert venue.ledger.fills == []
    _replace(client, "oms-a-1-2", "oms-a-1-1", qty=10, price=FAR_ABOVE)
    await client.expect("8")
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-2")
    assert order is not None
    for _ in range(10):
        venue.step()
    assert (order.status.value, sum(fill.qty for fill in venue.ledger.fills)) == ("filled", 10)


async def test_replace_rejections(venue: Venue, client: FixTestClient) -> None:
    _replace(client, "oms-a-1-9", "no-such-order", qty=5, price=2.0)
    unknown = await client.expect("9")
    assert [field(unknown, tag) for tag in (434, 102, 37)] == ["2", "1", "NONE"]
    await _rest(client, "oms-a-1-1")
    _replace(client, "oms-a-1-1", "oms-a-1-1", qty=5, price=2.0)
    duplicate = await client.expect("9")
    assert [field(duplicate, tag) for tag in (434, 102, 39)] == ["2", "6", "0"]
    _replace(client, "oms-a-1-2", "oms-a-1-1", qty=5, price=2.005)
    off_tick = await client.expect("9")
    assert [field(off_tick, 434), field(off_tick, 102)] == ["2", "2"]
    assert "tick" in (field(off_tick, 58) or "")
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
    assert order is not None
    assert (order.qty, order.price) == (10, FAR_BELOW)


async def test_order_status_request_known_and_unknown(client: FixTestClient) -> None:
    await _rest(client, "oms-a-1-1", qty=7)
    client.send("H", [(11, "oms-a-1-1"), (55, "BTC-USD"), (54, 1), (790, "st-1")])
    status = await client.expect("8")
    assert [field(status, tag) for tag in (150, 39, 11, 38, 151, 790)] == [
        "I",
        "0",
        "oms-a-1-1",
        "7",
        "7",
        "st-1",
    ]
    client.send("H", [(11, "ghost"), (55, "BTC-USD"), (54, 1)])
    unknown = await client.expect("8")
    assert [field(unknown, tag) for tag in (150, 39, 37, 58)] == ["I", "8", "NONE", "unknown order"]


async def test_mass_cancel_all_and_by_symbol(venue: Venue, client: FixTestClient) -> None:
    await _rest(client, "oms-a-1-1")
    await _rest(client, "oms-a-1-2", symbol="ETH-USD")
    await _rest(client, "oms-a-1-3")
    client.send("q", [(11, "mc-1"), (530, 1), (55, "BTC-USD"), (60, "20260101-00:00:00")])
    report = await client.expect("r")
    assert [field(report, tag) for tag in (11, 530, 531, 533)] == ["mc-1", "1", "1", "2"]
    canceled = [await client.expect("8") for _ in range(2)]
    assert {field(message, 11) for message in canceled} == {"oms-a-1-1", "oms-a-1-3"}
    assert {field(message, 150) for message in canceled} == {"4"}
    client.send("q", [(11, "mc-2"), (530, 7), (60, "20260101-00:00:00")])
    everything = await client.expect("r")
    assert [field(everything, 531), field(everything, 533)] == ["7", "1"]
    assert field(await client.expect("8"), 11) == "oms-a-1-2"
    assert venue.ledger.open_orders == {}


async def test_mass_cancel_of_an_unknown_symbol_is_rejected(client: FixTestClient) -> None:
    client.send("q", [(11, "mc-1"), (530, 1), (55, "NOPE"), (60, "20260101-00:00:00")])
    report = await client.expect("r")
    assert [field(report, tag) for tag in (531, 532, 533)] == ["0", "1", "0"]
