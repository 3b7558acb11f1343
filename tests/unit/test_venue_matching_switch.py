"""The venue's matching switch and its market-data pages (contracts §3: ``/matching``,
``GET /ledger?market_data=false``, ``GET /ledger/market-data``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mock_exchange.config import VenueConfig
from mock_exchange.executions import NewOrderRequest
from mock_exchange.market_data_log import MarketDataLog
from mock_exchange.model import OrderStatus, OrdType, Side, TimeInForce
from mock_exchange.venue import Venue

TOKEN = "matching-switch-token"
TICK_S = 0.01
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def venue(tmp_path: Path) -> AsyncIterator[Venue]:
    config = VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "ledger.jsonl", admin_token=TOKEN,
                         tick_interval_s=TICK_S)
    async with Venue(config) as started:
        yield started


async def _call(venue: Venue, method: str, path: str,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{venue.admin_port}{path}"
    async with aiohttp.ClientSession() as session, session.request(
            method, url, headers=HEADERS if headers is None else headers) as response:
        return response.status, await response.json(content_type=None)


def _marketable_buy(venue: Venue) -> str:
    """A resting buy far above the ask: it fills at a matching step, never on entry (not IOC)."""
    quote = venue.engine.prices["BTC-USD"].quote
    venue.engine.submit(NewOrderRequest("buy-1", "OMS-A", "oms-a", "BTC-USD", Side.BUY, OrdType.LIMIT,
                                        TimeInForce.DAY, round(quote.ask * 1.5, 2), 1))
    return "buy-1"


async def _until(condition: Any, what: str, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(TICK_S)


async def test_a_stopped_venue_neither_moves_its_prices_nor_fills_resting_orders(venue: Venue) -> None:
    assert await _call(venue, "POST", "/matching/stop") == (200, {"running": False})
    assert await _call(venue, "GET", "/matching") == (200, {"running": False})
    quote = venue.engine.prices["BTC-USD"].quote
    cl_ord_id = _marketable_buy(venue)
    await asyncio.sleep(20 * TICK_S)  # twenty steps' worth of time in which nothing may happen

    assert venue.engine.prices["BTC-USD"].quote == quote
    assert venue.ledger.fills == []
    assert await _call(venue, "POST", "/matching/start") == (200, {"running": True})
    await _until(lambda: venue.ledger.fills, "the resting order's fill once matching runs again")
    assert venue.ledger.fills[0].cl_ord_id == cl_ord_id
    assert venue.ledger.orders[venue.ledger.fills[0].order_id].status in (
        OrderStatus.FILLED, OrderStatus.PARTIALLY_FILLED)


async def test_stopping_twice_is_harmless_and_the_switch_needs_the_token(venue: Venue) -> None:
    assert (await _call(venue, "POST", "/matching/stop"))[0] == 200
    assert await _call(venue, "POST", "/matching/stop") == (200, {"running": False})
    assert (await _call(venue, "POST", "/matching/start", headers={}))[0] == 401
    assert (await _call(venue, "GET", "/matching/stop"))[0] == 405
    assert await _call(venue, "GET", "/matching") == (200, {"running": False})


async def test_the_ledger_without_market_data_on_a_venue_without_feeds_is_the_same(venue: Venue) -> None:
    status, lean = await _call(venue, "GET", "/ledger?market_data=false")
    _, whole = await _call(venue, "GET", "/ledger")
    assert status == 200
    assert lean.keys() == whole.keys()
    assert "market_data" not in lean
    assert "market_data_total" not in lean
    assert (await _call(venue, "GET", "/ledger?market_data=maybe"))[0] == 400


@pytest.mark.parametrize(("query", "problem"), [
    ("since=-1", "since must be an integer from 0"), ("limit=0", "limit must be an integer from 1 to 100000"),
    ("limit=100001", "limit must be an integer from 1 to 100000"), ("since=1e3", "since must be"),
    ("from=3", "unknown query parameter(s): from"),
])
async def test_a_bad_market_data_page_request_is_refused(venue: Venue, query: str, problem: str) -> None:
    status, body = await _call(venue, "GET", f"/ledger/market-data?{query}")
    assert status == 400
    assert body["error"].startswith(problem)


def _line(n: int) -> dict[str, Any]:
    return {"kind": "price", "n": n}


def test_pages_number_lines_in_the_whole_stream_and_start_at_the_oldest_held() -> None:
    log = MarketDataLog(capacity=4)
    for n in range(6):  # lines 0 and 1 are dropped
        log.append(_line(n))

    page = log.page(since=0, limit=3)
    assert (page.first, page.next, page.total) == (2, 5, 6)
    assert [line["n"] for line in page.lines] == [2, 3, 4]
    rest = log.page(since=page.next, limit=3)
    assert ([line["n"] for line in rest.lines], rest.next) == ([5], 6)
    assert log.page(since=6, limit=3).lines == []
    assert log.page(since=99, limit=3).first == 6
    assert [line["n"] for line in log] == [2, 3, 4, 5]
    assert len(log) == 4
