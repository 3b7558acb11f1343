"""Order life cycle through the venue's FIX order entry, checked with a simplefix client."""

from __future__ import annotations

from pathlib import Path

import pytest
import simplefix

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import FixTestClient, field, utc_timestamp, venue_config, wait_until

pytestmark = pytest.mark.integration

FAR_BELOW = 1.0  # a buy limit that never becomes marketable
FAR_ABOVE = 1_000_000.0  # a buy limit that is always marketable


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return venue_config(tmp_path, fill_probability=1.0)


async def _logged_on(venue: Venue, sender_comp_id: str) -> FixTestClient:
    other = await FixTestClient.connect(venue.fix_port, sender_comp_id)
    await other.logon()
    return other


async def _trades_until_filled(client: FixTestClient) -> list[simplefix.FixMessage]:
    trades = []
    while True:
        report = await client.expect("8")
        assert field(report, 150) == "F"
        trades.append(report)
        if field(report, 39) == "2":
            return trades
        assert field(report, 39) == "1"


async def test_limit_order_new_then_partials_then_filled(venue: Venue, client: FixTestClient) -> None:
    client.new_order("oms-a-1-1", qty=500, price=FAR_ABOVE)
    ack = await client.expect("8")
    assert [field(ack, tag) for tag in (150, 39, 11, 55, 54, 38, 44, 14, 151, 57)] == [
        "0",
        "0",
        "oms-a-1-1",
        "BTC-USD",
        "1",
        "500",
        "1000000",
        "0",
        "500",
        "oms-a",
    ]
    trades = await _trades_until_filled(client)
    assert len(trades) > 1
    assert sum(int(field(trade, 32) or 0) for trade in trades) == 500
    assert [int(field(trade, 14) or 0) + int(field(trade, 151) or 0) for trade in trades] == [500] * len(
        trades
    )
    assert {field(trade, 31) for trade in trades} == {"1000000"}
    assert field(trades[-1], 6) == "1000000"
    order = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
    assert order is not None
    assert (order.status.value, order.cum_qty, len(order.events)) == ("filled", 500, len(trades) + 1)
    assert field(ack, 37) == order.order_id


async def test_market_order_fills_at_the_touch(venue: Venue, client: FixTestClient) -> None:
    client.new_order("oms-a-1-1", side=2, qty=3)
    ack = await client.expect("8")
    assert (field(ack, 40), field(ack, 44)) == ("1", None)
    trades = await _trades_until_filled(client)
    fills = venue.ledger.fills
    assert [fill.qty for fill in fills] == [int(field(trade, 32) or 0) for trade in trades]
    assert all(fill.side.value == "sell" and fill.price > 0 for fill in fills)


async def test_ioc_is_canceled_for_what_does_not_fill_at_once(venue: Venue, client: FixTestClient) -> None:
    client.new_order("oms-a-1-1", qty=10, price=FAR_BELOW, tif=3)
    ack = await client.expect("8")
    canceled = await client.expect("8")
    assert [field(ack, 150), field(canceled, 150), field(canceled, 39), field(canceled, 14)] == [
        "0",
        "4",
        "4",
        "0",
    ]
    assert venue.ledger.open_orders == {}


async def test_cancel_by_another_session_of_the_firm(venue: Venue, client: FixTestClient) -> None:
    client.new_order("oms-a-1-1", price=FAR_BELOW)
    ack = await client.expect("8")
    other = await _logged_on(venue, "OMS-B")
    other.cancel("oms-b-1-1", "oms-a-1-1")
    to_requester = await other.expect("8")
    to_owner = await client.expect("8")
    for report in (to_requester, to_owner):
        assert [field(report, tag) for tag in (150, 39, 11, 41, 37, 151)] == [
            "4",
            "4",
            "oms-b-1-1",
            "oms-a-1-1",
            field(ack, 37),
            "0",
        ]
    await other.close()


async def test_cancel_rejects_for_unknown_and_done_orders(client: FixTestClient) -> None:
    client.cancel("oms-a-1-2", "no-such-order")
    unknown = await client.expect("9")
    assert [field(unknown, tag) for tag in (37, 11, 41, 434, 102)] == [
        "NONE",
        "oms-a-1-2",
        "no-such-order",
        "1",
        "1",
    ]
    client.new_order("oms-a-1-3", qty=1, price=FAR_ABOVE)
    await client.expect("8")
    await _trades_until_filled(client)
    client.cancel("oms-a-1-4", "oms-a-1-3")
    too_late = await client.expect("9")
    assert [field(too_late, tag) for tag in (39, 102, 434)] == ["2", "0", "1"]
    assert "filled" in (field(too_late, 58) or "")


async def test_invalid_orders_are_rejected(venue: Venue, client: FixTestClient) -> None:
    client.new_order("oms-a-1-1", symbol="NOPE-USD", price=1.0)
    reject = await client.expect("8")
    assert [field(reject, 150), field(reject, 39)] == ["8", "8"]
    assert "unknown symbol" in (field(reject, 58) or "")
    client.new_order("oms-a-1-1", price=1.0)
    duplicate = await client.expect("8")
    assert [field(duplicate, 150), field(duplicate, 37)] == ["8", "NONE"]
    client.send("D", [(11, "oms-a-1-2"), (55, "BTC-USD"), (54, 7), (60, utc_timestamp()), (38, 1), (40, 2)])
    session_reject = await client.expect("3")
    assert [field(session_reject, 371), field(session_reject, 373)] == ["54", "5"]
    assert len(venue.ledger.orders) == 1


async def test_mass_status_with_no_orders(client: FixTestClient) -> None:
    client.send("AF", [(584, "req-1"), (585, 7)])
    report = await client.expect("8")
    assert [field(report, tag) for tag in (37, 150, 584, 911, 912)] == ["NONE", "I", "req-1", "0", "Y"]


async def test_mass_status_reports_every_order_of_the_firm(venue: Venue, client: FixTestClient) -> None:
    client.new_order("oms-a-1-1", qty=5, price=FAR_BELOW)
    client.new_order("oms-a-1-2", qty=7, price=FAR_BELOW)
    await client.expect("8")
    await client.expect("8")
    client.cancel("oms-a-1-3", "oms-a-1-2", qty=7)
    await client.expect("8")
    other = await _logged_on(venue, "OMS-B")
    other.send("AF", [(584, "req-2"), (585, 7)])
    reports = [await other.expect("8") for _ in range(2)]
    assert [
        [field(report, tag) for tag in (150, 11, 39, 14, 151, 38, 44, 57, 584, 911, 912)]
        for report in reports
    ] == [
        ["I", "oms-a-1-1", "0", "0", "5", "5", "1", "oms-a", "req-2", "2", "N"],
        ["I", "oms-a-1-2", "4", "0", "0", "7", "1", "oms-a", "req-2", "2", "Y"],
    ]
    assert [field(report, 37) for report in reports] == list(venue.ledger.orders)
    await other.close()


async def test_cancel_on_disconnect_is_per_session(venue: Venue, client: FixTestClient) -> None:
    client.new_order("oms-a-1-1", price=FAR_BELOW)
    await client.expect("8")
    cod_session = await _logged_on(venue, "OMS-B")
    cod_session.new_order("oms-b-1-1", price=FAR_BELOW, sub_id="oms-b")
    await cod_session.expect("8")
    await cod_session.close()
    await wait_until(lambda: not venue.ledger.sessions["OMS-B"].connected)
    canceled = venue.ledger.order_by_cl_ord_id("oms-b-1-1")
    assert canceled is not None
    assert canceled.status.value == "canceled"
    assert canceled.events[-1].text is not None
    assert "cancel on disconnect" in canceled.events[-1].text
    orphan_report = await client.expect("8")
    assert [field(orphan_report, 11), field(orphan_report, 150), field(orphan_report, 57)] == [
        "oms-b-1-1",
        "4",
        "oms-b",
    ]
    await client.close()
    await wait_until(lambda: not venue.ledger.sessions["OMS-A"].connected)
    kept = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
    assert kept is not None
    assert kept.is_open
