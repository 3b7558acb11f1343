"""The end of a run against the venue's admin API (gameday.venue_reads): matching stopped for the
capture and started again, the ledger read without its market data and completed once, paged; and
the fallbacks for a venue without those routes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gameday.venue_reads import MatchingState, VenueReader
from mock_exchange.config import FeedConfig, VenueConfig
from mock_exchange.venue import Venue
from tests.loopback_http import serving

TOKEN = "capture-token"


@pytest.fixture
async def venue(tmp_path: Path) -> AsyncIterator[Venue]:
    config = VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "ledger.jsonl", admin_token=TOKEN,
                         feeds=(FeedConfig(name="A", updates_per_s=200.0),))
    async with Venue(config) as started:
        yield started


async def _until_market_data(venue: Venue, lines: int) -> None:
    deadline = time.monotonic() + 10.0
    while venue.ledger.market_data.total < lines:
        assert time.monotonic() < deadline, "the venue wrote no market data"
        await asyncio.sleep(0.02)


async def test_the_kept_read_gets_the_market_data_lines_a_whole_ledger_read_would_have(
        venue: Venue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mock_exchange.admin.MAX_PAGE_LINES", 7)  # several pages
    await _until_market_data(venue, 30)
    async with aiohttp.ClientSession() as session:
        reader = VenueReader(session, f"http://127.0.0.1:{venue.admin_port}", TOKEN)
        lean = await reader.ledger()
        assert lean.ok
        assert "market_data" not in lean.body
        total = lean.body["market_data_total"]
        kept = await reader.with_market_data(lean)

    assert kept.ok
    assert "market_data_total" not in kept.body
    assert kept.body["market_data"] == list(venue.ledger.market_data)[:total]
    whole = venue.ledger_snapshot()  # what a plain GET /ledger answers
    assert kept.body.keys() == whole.keys()
    assert "market_data" in whole


async def test_matching_is_stopped_for_the_block_and_started_after_it(venue: Venue) -> None:
    async with aiohttp.ClientSession() as session:
        reader = VenueReader(session, f"http://127.0.0.1:{venue.admin_port}", TOKEN)
        seen: list[tuple[MatchingState, str, bool]] = []

        async def capture() -> None:
            async with reader.matching_stopped() as (state, detail):
                seen.append((state, detail, venue.matching_running))
                raise RuntimeError("capture failed")

        with pytest.raises(RuntimeError, match="capture failed"):
            await capture()
    assert seen == [(MatchingState.STOPPED, "", False)]
    assert venue.matching_running is True


async def test_a_wrong_token_leaves_matching_running_and_says_why(venue: Venue) -> None:
    async with aiohttp.ClientSession() as session:
        reader = VenueReader(session, f"http://127.0.0.1:{venue.admin_port}", "not-the-token")
        async with reader.matching_stopped() as (state, detail):
            assert state is MatchingState.FAILED
            assert detail.startswith("401")
            assert venue.matching_running is True


class OldVenue:
    """A venue from before these routes: unknown query parameters are 400, unknown routes 404."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    async def ledger(self, request: web.Request) -> web.Response:
        self.queries.append(request.query_string)
        if request.query:
            return web.json_response({"error": "unknown query parameter(s): market_data"}, status=400)
        return web.json_response({"orders": [], "fills": [], "market_data": [{"kind": "price"}]})


async def test_a_venue_without_the_routes_is_read_whole_and_keeps_matching() -> None:
    old = OldVenue()
    app = web.Application()
    app.router.add_get("/ledger", old.ledger)
    async with serving(app) as url, aiohttp.ClientSession() as session:
        reader = VenueReader(session, url, None)
        async with reader.matching_stopped() as (state, detail):
            assert state is MatchingState.UNSUPPORTED
            assert detail.startswith("404")
            first, second = await reader.ledger(), await reader.ledger()
            kept = await reader.with_market_data(second)
    assert first.ok
    assert kept.body["market_data"] == [{"kind": "price"}]
    assert old.queries == ["market_data=false", "", ""]  # asked once, then read whole


async def test_a_failed_market_data_page_fails_the_read() -> None:
    async def ledger(_request: web.Request) -> web.Response:
        return web.json_response({"orders": [], "fills": [], "market_data_total": 3})

    async def page(_request: web.Request) -> web.Response:
        return web.json_response({"error": "boom"}, status=500)

    app = web.Application()
    app.router.add_get("/ledger", ledger)
    app.router.add_get("/ledger/market-data", page)
    async with serving(app) as url, aiohttp.ClientSession() as session:
        reader = VenueReader(session, url, None)
        kept = await reader.with_market_data(await reader.ledger())
    assert (kept.ok, kept.body) == (False, {"error": "boom", "status": 500})
