"""The venue's WebSocket JSON API over real sockets: auth, order life cycle, queries, the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import simplefix

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import FixTestClient, field, get_json, wait_until
from tests.integration.ws_helpers import Frame, WsTestClient, raw_ws_auth, ws_client, ws_venue_config

pytestmark = pytest.mark.integration

FAR_BELOW = 1.0  # a buy limit that never becomes marketable
FAR_ABOVE = 1_000_000.0  # a buy limit that is always marketable


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return ws_venue_config(tmp_path, fill_probability=1.0)


@pytest.fixture
async def client(venue: Venue) -> AsyncIterator[WsTestClient]:
    async with ws_client(venue) as connected:
        yield connected


def _place(client_order_id: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "client_order_id": client_order_id,
        "symbol": "BTC-USD",
        "side": "buy",
        "type": "limit",
        "qty": 10,
        "price": FAR_BELOW,
    }
    return fields | overrides


def _status(venue: Venue, client_order_id: str) -> str | None:
    order = venue.ledger.order_by_cl_ord_id(client_order_id)
    return None if order is None else order.status.value


def _filled(event: Frame) -> bool:
    return bool(event["status"] == "filled")


async def test_auth_answers_with_the_account_and_records_a_logon(venue: Venue) -> None:
    assert venue.ws_port is not None
    async with WsTestClient.connect(venue.ws_port, "/ws") as client:
        answer = await client.auth("desk-a", "key-a")
        assert answer == {"type": "result", "op": "auth", "id": 1, "account": "desk-a"}
        record = venue.ledger.sessions["desk-a"]
        assert (record.connected, record.logged_on, record.logons) == (True, True, 1)


async def test_a_wrong_key_is_refused_and_the_connection_stays(venue: Venue) -> None:
    assert venue.ws_port is not None
    async with WsTestClient.connect(venue.ws_port) as client:
        refused = await client.auth("desk-a", "key-b")
        assert (refused["type"], refused["code"], refused["id"]) == ("error", "auth_failed", 1)
        early = await client.request("open_orders")
        assert early["code"] == "not_authenticated"
        assert (await client.auth("desk-a", "key-a"))["type"] == "result"
        again = await client.auth("desk-a", "key-a")
        assert again["code"] == "already_authenticated"
    assert "desk-a" in venue.ledger.sessions


async def test_an_account_has_one_session_at_a_time(venue: Venue, client: WsTestClient) -> None:
    assert venue.ws_port is not None
    async with WsTestClient.connect(venue.ws_port) as second:
        refused = await second.auth("desk-a", "key-a")
        assert (refused["code"], refused["message"]) == ("session_in_use", "desk-a is connected elsewhere")


async def test_a_marketable_limit_fills_over_time_with_consecutive_seqs(
    venue: Venue, client: WsTestClient
) -> None:
    placed = await client.request("place", **_place("a-1", qty=500, price=FAR_ABOVE))
    assert placed["op"] == "place"
    assert (placed["order"]["status"], placed["order"]["qty"]) == ("new", 500)
    events = await client.events_until(_filled)
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert events[0]["exec_type"] == "new"
    trades = events[1:]
    assert len(trades) > 1, "a fill of 500 should come in parts over several steps"
    assert {event["exec_type"] for event in trades} == {"trade"}
    assert [event["status"] for event in trades[:-1]] == ["partially_filled"] * (len(trades) - 1)
    assert sum(event["last_qty"] for event in trades) == 500
    assert {event["last_px"] for event in trades} == {FAR_ABOVE}
    order = venue.ledger.order_by_cl_ord_id("a-1")
    assert order is not None
    assert (order.sender_comp_id, order.instance, order.cum_qty) == ("desk-a", "desk-a", 500)
    assert [event["exec_id"] for event in events] == [event.exec_id for event in order.events]


async def test_orders_appear_in_the_admin_api_like_fix_orders(venue: Venue, client: WsTestClient) -> None:
    await client.request("place", **_place("a-1", sub_id="oms-7"))
    _, orders = await get_json(venue.admin_port, "/ledger/orders?status=open")
    [order] = orders
    assert (order["cl_ord_id"], order["sender_comp_id"], order["instance"]) == ("a-1", "desk-a", "oms-7")
    _, snapshot = await get_json(venue.admin_port, "/ledger")
    [session] = [s for s in snapshot["sessions"] if s["sender_comp_id"] == "desk-a"]
    assert (session["connected"], session["logged_on"], session["in_seq"], session["out_seq"]) == (
        True,
        True,
        1,
        1,
    )


async def test_cancel_by_client_order_id_then_too_late(venue: Venue, client: WsTestClient) -> None:
    await client.request("place", **_place("a-1"))
    assert (await client.event())["exec_type"] == "new"
    canceled = await client.request("cancel", client_order_id="a-1")
    assert (canceled["op"], canceled["order"]["status"]) == ("cancel", "canceled")
    event = await client.event()
    assert (event["exec_type"], event["seq"], event["order"]["client_order_id"]) == ("canceled", 2, "a-1")
    late = await client.request("cancel", client_order_id="a-1")
    assert (late["code"], late["message"]) == ("too_late_to_cancel", "order already canceled")


async def test_cancel_by_order_id_and_unknown_orders(venue: Venue, client: WsTestClient) -> None:
    placed = await client.request("place", **_place("a-1"))
    canceled = await client.request("cancel", order_id=placed["order"]["order_id"])
    assert canceled["order"]["status"] == "canceled"
    unknown = await client.request("cancel", client_order_id="nope")
    assert unknown["code"] == "unknown_order"


async def test_an_account_cannot_cancel_or_see_another_accounts_orders(
    venue: Venue, client: WsTestClient
) -> None:
    assert venue.ws_port is not None
    await client.request("place", **_place("a-1"))
    async with ws_client(venue, "desk-b", "key-b") as other:
        assert (await other.request("cancel", client_order_id="a-1"))["code"] == "unknown_order"
        assert (await other.request("open_orders"))["orders"] == []
    order = venue.ledger.order_by_cl_ord_id("a-1")
    assert order is not None
    assert order.is_open


async def test_open_orders_and_fills_of_the_account(venue: Venue, client: WsTestClient) -> None:
    await client.request("place", **_place("a-rest", qty=3))
    await client.request("place", **_place("a-eth", qty=4, symbol="ETH-USD"))
    await client.request("place", **_place("a-fill", qty=2, price=FAR_ABOVE))
    await wait_until(lambda: _status(venue, "a-fill") == "filled")
    open_orders = await client.request("open_orders")
    assert [order["client_order_id"] for order in open_orders["orders"]] == ["a-rest", "a-eth"]
    only_eth = await client.request("open_orders", symbol="ETH-USD")
    assert [order["client_order_id"] for order in only_eth["orders"]] == ["a-eth"]
    fills = await client.request("fills")
    assert {fill["client_order_id"] for fill in fills["fills"]} == {"a-fill"}
    assert sum(fill["qty"] for fill in fills["fills"]) == 2
    assert (await client.request("fills", symbol="ETH-USD"))["fills"] == []


async def test_ioc_gets_one_attempt_then_the_rest_is_canceled(venue: Venue, client: WsTestClient) -> None:
    placed = await client.request("place", **_place("a-ioc", tif="ioc"))
    assert placed["order"]["status"] == "canceled"
    events = await client.events_until(lambda event: event["exec_type"] == "canceled")
    assert [event["exec_type"] for event in events] == ["new", "canceled"]
    assert events[-1]["text"] == "IOC remainder canceled"


async def test_a_business_reject_is_an_execution_and_a_ledger_entry(
    venue: Venue, client: WsTestClient
) -> None:
    placed = await client.request("place", **_place("a-bad", symbol="DOGE-USD"))
    assert (placed["order"]["status"], placed["order"]["text"]) == ("rejected", "unknown symbol DOGE-USD")
    event = await client.event()
    assert (event["exec_type"], event["status"], event["text"]) == (
        "rejected",
        "rejected",
        "unknown symbol DOGE-USD",
    )
    order = venue.ledger.order_by_cl_ord_id("a-bad")
    assert order is not None
    assert order.status.value == "rejected"


async def test_market_order_fills_at_the_touch(venue: Venue, client: WsTestClient) -> None:
    await client.request("place", **_place("a-mkt", type="market", price=None, qty=1, side="sell"))
    events = await client.events_until(_filled)
    quote = venue.engine.prices["BTC-USD"].quote
    assert events[-1]["order"]["type"] == "market"
    assert abs(events[-1]["last_px"] - quote.bid) < quote.bid * 0.01


async def test_a_duplicate_client_order_id_is_refused_outside_the_ledger(
    venue: Venue, client: WsTestClient
) -> None:
    await client.request("place", **_place("a-1"))
    lines_before = venue.config.ledger_path.read_text().count("\n")
    duplicate = await client.request("place", **_place("a-1"))
    assert duplicate["code"] == "duplicate_client_order_id"
    assert venue.config.ledger_path.read_text().count("\n") == lines_before


async def test_cancel_on_disconnect_is_per_account(venue: Venue) -> None:
    assert venue.ws_port is not None
    for account, key in (("desk-a", "key-a"), ("desk-b", "key-b")):
        async with ws_client(venue, account, key) as client:
            await client.request("place", **_place(f"{account}-1"))
    await wait_until(lambda: not venue.ledger.sessions["desk-b"].connected)
    kept, canceled = (venue.ledger.order_by_cl_ord_id(f"{name}-1") for name in ("desk-a", "desk-b"))
    assert kept is not None
    assert canceled is not None
    assert kept.is_open
    assert canceled.status.value == "canceled"
    assert canceled.events[-1].text == "cancel on disconnect: closed by the client (1000)"


async def test_ws_and_fix_orders_are_reported_each_on_their_own_protocol(venue: Venue) -> None:
    assert venue.ws_port is not None
    fix = await FixTestClient.connect(venue.fix_port, "OMS-A")
    await fix.logon()
    async with ws_client(venue, "desk-a", "key-a") as client:
        await client.request("place", **_place("a-1", qty=50, price=FAR_ABOVE))
        fix.new_order("oms-a-1-1", qty=50, price=FAR_ABOVE)
        await client.events_until(_filled)
        fix_reports: list[simplefix.FixMessage] = []
        while not fix_reports or field(fix_reports[-1], 39) != "2":
            fix_reports.append(await fix.expect("8"))
        fix.send("1", [(112, "after-fills")])
        heartbeat = await fix.expect("0", skip=())
        assert field(heartbeat, 112) == "after-fills"
        assert {field(report, 11) for report in fix_reports} == {"oms-a-1-1"}
        assert {event["order"]["client_order_id"] for event in client.events} <= {"a-1"}
    await fix.close()


async def test_a_client_that_stops_answering_pings_is_disconnected(tmp_path: Path) -> None:
    async with Venue(ws_venue_config(tmp_path, heartbeat_s=1)) as venue:
        assert venue.ws_port is not None
        reader, writer = await raw_ws_auth(venue.ws_port, "desk-b", "key-b")
        async with ws_client(venue, "desk-a", "key-a") as healthy, asyncio.timeout(10):
            while venue.ledger.sessions["desk-b"].connected:
                with contextlib.suppress(TimeoutError):
                    await healthy.ws.receive(timeout=0.1)  # a reading client answers the venue's pings
            assert (await healthy.request("ping"))["op"] == "ping"
        await asyncio.wait_for(reader.read(), timeout=5)  # pings unanswered, then the venue hangs up
        assert reader.at_eof()
        assert venue.ledger.sessions["desk-b"].logons == 1
        writer.close()


async def test_stopping_the_venue_closes_sessions_with_1001_and_records_them(tmp_path: Path) -> None:
    venue = Venue(ws_venue_config(tmp_path))
    async with venue, ws_client(venue, "desk-b", "key-b") as client:
        await client.request("place", **_place("b-1"))
        stopping = asyncio.create_task(venue.stop())
        frames = []
        while (message := await client.ws.receive()).type is aiohttp.WSMsgType.TEXT:
            frames.append(json.loads(message.data))
        assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.GOING_AWAY)
        assert [frame["exec_type"] for frame in frames] == ["new"], "queued frames are sent before closing"
        await stopping
    lines = [json.loads(line) for line in venue.config.ledger_path.read_text().splitlines()]
    assert [(line["kind"], line.get("event")) for line in lines] == [
        ("session", "logon"),
        ("order", None),
        ("session", "disconnect"),
        ("cancel", None),
    ]
    assert lines[2]["text"] == "closed by the venue"
