"""Orders of one protocol touched over the other, over real sockets: a FIX cancel or replace of a
WebSocket account's order is reported to that account too; WebSocket trades name their market."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import (
    FAR_ABOVE,
    FAR_BELOW,
    FixTestClient,
    field,
    logged_on,
    utc_timestamp,
)
from tests.integration.ws_helpers import Frame, WsTestClient, ws_client, ws_venue_config

pytestmark = pytest.mark.integration


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return ws_venue_config(tmp_path)


@pytest.fixture
def fix(client: FixTestClient) -> FixTestClient:
    """The FIX session OMS-A, named for its protocol beside this module's WebSocket clients."""
    return client


async def _rest(client: WsTestClient, client_order_id: str) -> Frame:
    """Place a resting buy limit over the WebSocket API; its ``new`` event."""
    order = {"client_order_id": client_order_id, "symbol": "BTC-USD", "side": "buy", "type": "limit"}
    answer = await client.request("place", **order, qty=10, price=FAR_BELOW)
    assert answer["type"] == "result", answer
    event = await client.event()
    assert event["exec_type"] == "new"
    return event


async def test_a_fix_cancel_of_a_websocket_order_is_reported_to_both(
    venue: Venue, fix: FixTestClient
) -> None:
    async with ws_client(venue) as owner:
        await _rest(owner, "ws-1")
        fix.cancel("oms-a-1-1", "ws-1")
        report = await fix.expect("8")
        event = await owner.event()
    assert [field(report, tag) for tag in (150, 39, 11, 41)] == ["4", "4", "oms-a-1-1", "ws-1"]
    assert (event["exec_type"], event["status"], event["order"]["client_order_id"]) == (
        "canceled",
        "canceled",
        "ws-1",
    )
    assert event["exec_id"] == field(report, 17), "the same execution on both protocols"


async def test_a_fix_replace_of_a_websocket_order_is_reported_to_both(
    venue: Venue, fix: FixTestClient
) -> None:
    async with ws_client(venue) as owner:
        await _rest(owner, "ws-2")
        fields: list[tuple[int, Any]] = [(11, "oms-a-1-2"), (41, "ws-2"), (55, "BTC-USD"), (54, 1)]
        fix.send("G", [*fields, (60, utc_timestamp()), (38, 20), (40, 2), (44, 2.0)])
        report = await fix.expect("8")
        event = await owner.event()
    assert [field(report, tag) for tag in (150, 11, 41, 38)] == ["5", "oms-a-1-2", "ws-2", "20"]
    assert (event["exec_type"], event["exec_id"]) == ("replaced", field(report, 17))
    assert (event["order"]["client_order_id"], event["order"]["qty"]) == ("oms-a-1-2", 20)


async def test_a_websocket_order_goes_over_fix_only_to_the_session_that_asked(
    venue: Venue, fix: FixTestClient
) -> None:
    async with logged_on(venue.fix_port, "OMS-B") as other, ws_client(venue) as owner:
        await _rest(owner, "ws-3")
        fix.cancel("oms-a-1-3", "ws-3")
        await fix.expect("8")
        await owner.event()
        for client in (fix, other):
            client.send("1", [(112, "after-cancel")])
        answers = [await client.expect("0", skip=()) for client in (fix, other)]
    assert [field(answer, 112) for answer in answers] == ["after-cancel"] * 2, "no other report over FIX"


async def test_websocket_trades_name_their_market(tmp_path: Path) -> None:
    config = ws_venue_config(tmp_path, fill_probability=1.0, markets=("XNAS", "ARCX"), max_fill_lots=2)
    async with Venue(config) as venue, ws_client(venue) as client:
        order = {"client_order_id": "ws-4", "symbol": "BTC-USD", "side": "buy", "type": "limit"}
        await client.request("place", **order, qty=5, price=FAR_ABOVE)
        events = await client.events_until(lambda event: event["status"] == "filled")
        fills = await client.request("fills")
    trades = [event for event in events if event["exec_type"] == "trade"]
    markets = [event["market"] for event in trades]
    assert markets == ["XNAS", "ARCX", "XNAS", "ARCX", "XNAS"][: len(trades)], "the order's markets in turn"
    assert sum(event["last_qty"] for event in trades) == 5
    assert max(event["last_qty"] for event in trades) <= 2
    assert [fill["market"] for fill in fills["fills"]] == markets


async def test_without_named_markets_a_websocket_trade_names_none(tmp_path: Path) -> None:
    async with Venue(ws_venue_config(tmp_path, fill_probability=1.0)) as venue, ws_client(venue) as client:
        order = {"client_order_id": "ws-5", "symbol": "BTC-USD", "side": "buy", "type": "limit"}
        await client.request("place", **order, qty=1, price=FAR_ABOVE)
        events = await client.events_until(lambda event: event["status"] == "filled")
        fills = await client.request("fills")
    assert [event["market"] for event in events] == [None, None]
    assert "market" not in fills["fills"][0]
