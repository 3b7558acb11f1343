"""Exchange faults, switched through the admin API, as a WebSocket API client meets them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import wait_until
from tests.integration.ws_helpers import WsTestClient, raw_ws_auth, ws_client, ws_venue_config

pytestmark = pytest.mark.integration


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return ws_venue_config(tmp_path)


@pytest.fixture
async def client(venue: Venue) -> AsyncIterator[WsTestClient]:
    async with ws_client(venue) as connected:
        yield connected


async def _admin(venue: Venue, method: str, path: str, body: dict[str, Any] | None = None) -> int:
    url = f"http://127.0.0.1:{venue.admin_port}{path}"
    async with aiohttp.ClientSession() as http, http.request(method, url, json=body) as response:
        return response.status


async def _arm(venue: Venue, kind: str, **params: Any) -> None:
    assert await _admin(venue, "PUT", f"/faults/{kind}", params) == 200


async def _heal(venue: Venue, kind: str) -> None:
    assert await _admin(venue, "DELETE", f"/faults/{kind}") == 204


def _order(client_order_id: str, symbol: str = "BTC-USD") -> dict[str, Any]:
    fields = {"client_order_id": client_order_id, "symbol": symbol, "side": "buy", "type": "limit"}
    return fields | {"qty": 1, "price": 1.0}


async def test_reject_new_orders(venue: Venue, client: WsTestClient) -> None:
    await _arm(venue, "reject_new_orders", reason="venue closed to new orders")
    placed = await client.request("place", **_order("a-1"))
    assert (placed["order"]["status"], placed["order"]["text"]) == ("rejected", "venue closed to new orders")
    assert (await client.event())["exec_type"] == "rejected"
    await _heal(venue, "reject_new_orders")
    assert (await client.request("place", **_order("a-2")))["order"]["status"] == "new"


async def test_rate_limit_per_account(venue: Venue, client: WsTestClient) -> None:
    await _arm(venue, "rate_limit", max_orders=2, window_s=60, session="desk-a")
    statuses = [(await client.request("place", **_order(f"a-{n}")))["order"] for n in range(3)]
    assert [order["status"] for order in statuses] == ["new", "new", "rejected"]
    assert statuses[-1]["text"] == "Rate limit exceeded"
    assert venue.ws_port is not None
    async with ws_client(venue, "desk-b", "key-b") as other:
        assert (await other.request("place", **_order("b-1")))["order"]["status"] == "new"


async def test_a_halted_symbol_refuses_orders_and_others_trade(venue: Venue, client: WsTestClient) -> None:
    await _arm(venue, "halt", symbols=["BTC-USD"])
    halted = await client.request("place", **_order("a-1"))
    assert (halted["order"]["status"], halted["order"]["text"]) == ("rejected", "Trading halted: BTC-USD")
    assert (await client.request("place", **_order("a-2", "ETH-USD")))["order"]["status"] == "new"


async def test_cancel_failure_reject(venue: Venue, client: WsTestClient) -> None:
    await client.request("place", **_order("a-1"))
    await _arm(venue, "cancel_failure", mode="reject", reason="try again later")
    refused = await client.request("cancel", client_order_id="a-1")
    assert (refused["code"], refused["message"]) == ("cancel_rejected", "try again later")
    assert _is_open(venue, "a-1")


async def test_cancel_failure_hang_answers_once_healed(venue: Venue, client: WsTestClient) -> None:
    await client.request("place", **_order("a-1"))
    await _arm(venue, "cancel_failure", mode="hang")
    cancel_id = await client.send("cancel", client_order_id="a-1")
    assert (await client.request("ping"))["op"] == "ping", "the cancel must not be answered while hanging"
    assert _is_open(venue, "a-1")
    await _heal(venue, "cancel_failure")
    answer = await client.answer(cancel_id)
    assert (answer["op"], answer["order"]["status"]) == ("cancel", "canceled")
    events = await client.events_until(lambda event: event["exec_type"] == "canceled")
    assert events[-1]["order"]["client_order_id"] == "a-1"


async def test_cancel_failure_drop_never_answers(venue: Venue, client: WsTestClient) -> None:
    await client.request("place", **_order("a-1"))
    await _arm(venue, "cancel_failure", mode="drop")
    await client.send("cancel", client_order_id="a-1")
    await _heal(venue, "cancel_failure")
    assert (await client.request("ping"))["op"] == "ping"
    assert _is_open(venue, "a-1")


async def test_dropped_execution_events_leave_a_seq_gap(venue: Venue, client: WsTestClient) -> None:
    await _arm(venue, "execution_reports", mode="drop")
    await client.request("place", **_order("a-1"))
    await _heal(venue, "execution_reports")
    await client.request("place", **_order("a-2"))
    event = await client.event()
    assert (event["seq"], event["order"]["client_order_id"]) == (2, "a-2")


async def test_duplicated_execution_events_repeat_the_exec_id_with_a_new_seq(
    venue: Venue, client: WsTestClient
) -> None:
    await _arm(venue, "execution_reports", mode="duplicate")
    await client.request("place", **_order("a-1"))
    first, second = await client.event(), await client.event()
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["exec_id"] == second["exec_id"]
    assert {key: value for key, value in first.items() if key != "seq"} == {
        key: value for key, value in second.items() if key != "seq"
    }


async def test_delayed_execution_events_come_after_later_answers(venue: Venue, client: WsTestClient) -> None:
    await _arm(venue, "execution_reports", mode="delay", delay_s=0.3)
    await client.request("place", **_order("a-1"))
    assert (await client.request("ping"))["op"] == "ping"
    assert not client.events
    event = await client.event()
    assert (event["seq"], event["exec_type"]) == (1, "new")


async def test_reconnect_cooldown_after_a_clean_close(venue: Venue) -> None:
    assert venue.ws_port is not None
    await _arm(venue, "reconnect_cooldown", clean_s=30, unclean_s=0)
    async with ws_client(venue):  # authenticated, then closed cleanly
        pass
    async with WsTestClient.connect(venue.ws_port) as again:
        refused = await again.auth("desk-a", "key-a")
        assert refused["code"] == "reconnect_cooldown"
        assert refused["message"].startswith("reconnect cooldown, ")
        await _heal(venue, "reconnect_cooldown")
        assert (await again.auth("desk-a", "key-a"))["type"] == "result"


async def test_reconnect_cooldown_after_a_lost_connection(venue: Venue) -> None:
    assert venue.ws_port is not None
    await _arm(venue, "reconnect_cooldown", clean_s=0, unclean_s=30)
    _, writer = await raw_ws_auth(venue.ws_port, "desk-a", "key-a")
    writer.transport.abort()
    await wait_until(lambda: not venue.ledger.sessions["desk-a"].connected)
    async with WsTestClient.connect(venue.ws_port) as again:
        assert (await again.auth("desk-a", "key-a"))["code"] == "reconnect_cooldown"
    await wait_until(lambda: not venue.ledger.sessions["desk-a"].connected)
    await _arm(venue, "reconnect_cooldown", clean_s=0, unclean_s=30)  # re-arming forgets past ends
    async with ws_client(venue):  # authenticated, then closed cleanly
        pass
    async with WsTestClient.connect(venue.ws_port) as again:
        assert (await again.auth("desk-a", "key-a"))["type"] == "result", "a clean close costs 0 s here"


def _is_open(venue: Venue, client_order_id: str) -> bool:
    order = venue.ledger.order_by_cl_ord_id(client_order_id)
    return order is not None and order.is_open
