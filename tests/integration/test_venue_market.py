"""Market phases from the venue's market clock, seen over FIX and the admin API."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from mock_exchange.market_clock import MarketClockConfig
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import FixTestClient, call_json, field, venue_config

pytestmark = pytest.mark.integration


def _clock(start: str, rate: float = 1.0) -> MarketClockConfig:
    return MarketClockConfig(start=datetime.fromisoformat(start), rate=rate)


@pytest.mark.parametrize(
    ("start", "phase", "text"),
    [
        ("2026-03-06T09:00:00", "pre_open", "Market is not open yet (pre-open)"),
        ("2026-03-06T16:30:00", "closed", "Market is closed"),
    ],
)
async def test_orders_outside_the_open_phase_are_rejected(
    tmp_path: Path, start: str, phase: str, text: str
) -> None:
    async with Venue(venue_config(tmp_path, market_clock=_clock(start))) as venue:
        status, market = await call_json(venue.admin_port, "GET", "/market")
        assert (status, market["phase"], market["timezone"]) == (200, phase, "America/New_York")
        assert market["local_time"].startswith(start[:13])
        assert market["local_time"].endswith("-05:00")
        client = await FixTestClient.connect(venue.fix_port)
        await client.logon()
        client.new_order("oms-a-1-1", price=1.0)
        rejected = await client.expect("8")
        assert [field(rejected, 150), field(rejected, 58)] == ["8", text]
        await client.close()


async def test_open_market_accepts_and_day_orders_expire_at_the_close(tmp_path: Path) -> None:
    config = venue_config(tmp_path, market_clock=_clock("2026-07-01T15:59:59", rate=2.0))
    async with Venue(config) as venue:
        client = await FixTestClient.connect(venue.fix_port)
        await client.logon()
        client.new_order("oms-a-1-1", price=1.0, tif=0)
        client.new_order("oms-a-1-2", price=1.0, tif=1)
        acks = [await client.expect("8"), await client.expect("8")]
        assert [field(ack, 150) for ack in acks] == ["0", "0"]
        expired = await client.expect("8", timeout_s=5)
        assert [field(expired, tag) for tag in (11, 150, 39, 151)] == ["oms-a-1-1", "C", "C", "0"]
        _, market = await call_json(venue.admin_port, "GET", "/market")
        assert (market["phase"], market["local_time"][-6:]) == ("closed", "-04:00")
        gtc = venue.ledger.order_by_cl_ord_id("oms-a-1-2")
        day = venue.ledger.order_by_cl_ord_id("oms-a-1-1")
        assert gtc is not None
        assert day is not None
        assert (gtc.is_open, day.status.value, day.events[-1].exec_type.value) == (
            True,
            "canceled",
            "expired",
        )
        await client.close()


async def test_no_market_clock_means_always_open(tmp_path: Path) -> None:
    async with Venue(venue_config(tmp_path)) as venue:
        assert await call_json(venue.admin_port, "GET", "/market") == (
            200,
            {"phase": "open", "local_time": None, "timezone": None},
        )
