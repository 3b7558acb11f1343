"""Venue admin API (contracts §3): shapes, filters and JSON errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import FixTestClient, get_json, venue_config

pytestmark = pytest.mark.integration

ORDER_KEYS = {
    "order_id",
    "cl_ord_id",
    "sender_comp_id",
    "sender_sub_id",
    "instance",
    "symbol",
    "side",
    "ord_type",
    "price",
    "qty",
    "cum_qty",
    "leaves_qty",
    "status",
    "received_ns",
    "events",
}
FILL_KEYS = {"exec_id", "order_id", "cl_ord_id", "instance", "symbol", "side", "qty", "price", "t_ns"}
SESSION_KEYS = {"sender_comp_id", "connected", "logged_on", "in_seq", "out_seq", "logons", "last_logon_ns"}
EVENT_KEYS = {"t_ns", "status", "exec_type", "exec_id", "text"}


@pytest.fixture
def venue_settings(tmp_path: Path) -> VenueConfig:
    return venue_config(tmp_path, fill_probability=1.0)


@pytest.fixture
async def traded_venue(venue: Venue) -> AsyncIterator[Venue]:
    """One filled order (sub id given) and one resting order (attributed by ClOrdID prefix)."""
    client = await FixTestClient.connect(venue.fix_port, "OMS-A")
    await client.logon()
    client.new_order("oms-a-1-1", qty=1, price=1_000_000.0)
    client.new_order("oms-blue-17-2", qty=4, price=1.0, side=1, sub_id=None)
    await client.expect("8")
    await client.expect("8")
    trade = await client.expect("8")
    assert trade.get(39) == b"2"
    yield venue
    await client.close()


async def test_health(venue: Venue) -> None:
    assert await get_json(venue.admin_port, "/health") == (200, {"status": "ok"})


async def test_ledger_shapes(traded_venue: Venue) -> None:
    status, body = await get_json(traded_venue.admin_port, "/ledger")
    assert status == 200
    assert set(body) == {"orders", "fills", "sessions", "faults", "bans", "trading_status", "report_fates",
                         "now_ns"}
    assert isinstance(body["now_ns"], int)
    filled, resting = body["orders"]
    assert set(filled) >= ORDER_KEYS
    assert set(filled["events"][0]) == EVENT_KEYS
    assert (filled["status"], filled["cum_qty"], filled["leaves_qty"], filled["side"]) == (
        "filled",
        1,
        0,
        "buy",
    )
    assert (filled["instance"], resting["instance"], resting["sender_sub_id"]) == ("oms-a", "oms-blue", None)
    assert (resting["ord_type"], resting["price"], resting["status"]) == ("limit", 1.0, "new")
    [fill] = body["fills"]
    assert set(fill) == FILL_KEYS
    assert (fill["order_id"], fill["qty"], fill["price"]) == (filled["order_id"], 1, 1_000_000.0)
    sessions = {session["sender_comp_id"]: session for session in body["sessions"]}
    assert set(sessions) == {"OMS-A", "OMS-B"}
    assert all(set(session) == SESSION_KEYS for session in sessions.values())
    assert (sessions["OMS-A"]["logged_on"], sessions["OMS-A"]["logons"], sessions["OMS-A"]["in_seq"]) == (
        True,
        1,
        3,
    )
    assert sessions["OMS-A"]["out_seq"] == 4
    assert (sessions["OMS-B"]["logons"], sessions["OMS-B"]["connected"]) == (0, False)


async def test_open_orders_and_fills(traded_venue: Venue) -> None:
    status, open_orders = await get_json(traded_venue.admin_port, "/ledger/orders?status=open")
    assert status == 200
    assert [order["cl_ord_id"] for order in open_orders] == ["oms-blue-17-2"]
    _, filled = await get_json(traded_venue.admin_port, "/ledger/orders?status=filled")
    assert [order["cl_ord_id"] for order in filled] == ["oms-a-1-1"]
    _, every = await get_json(traded_venue.admin_port, "/ledger/orders")
    assert len(every) == 2
    status, fills = await get_json(traded_venue.admin_port, "/ledger/fills")
    assert (status, [fill["cl_ord_id"] for fill in fills]) == (200, ["oms-a-1-1"])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/nope", 404),
        ("/ledger/nope", 404),
        ("/ledger/orders?status=bogus", 400),
        ("/ledger/orders?state=open", 400),
        ("/ledger/fills?limit=3", 400),
    ],
)
async def test_errors_are_json(venue: Venue, path: str, status: int) -> None:
    got_status, body = await get_json(venue.admin_port, path)
    assert got_status == status
    assert isinstance(body["error"], str)
    assert body["error"]


async def test_wrong_method_is_json_405(venue: Venue) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://127.0.0.1:{venue.admin_port}/ledger") as response,
    ):
        assert response.status == 405
        assert "error" in await response.json()
    assert await get_json(venue.admin_port, "/health") == (200, {"status": "ok"})
