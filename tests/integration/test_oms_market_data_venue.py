"""A real OMS process on the real venue's own feeds A and B (mock_exchange, issue 16), each feed fault
armed through the venue's admin API: the OMS fails over and back, absorbs gaps, duplicates and
reordering, catches frozen, crossed and drifting feeds, trips its breaker when both go; each defect
fails where the correct stack passes."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_deploy_support import pg_cache
from tests.integration.test_oms_market_data_support import (
    LIMIT_MS,
    SWITCH_BACK_MS,
    TRIP_MS,
    VenueFeedsBed,
    venue_feeds_bed,
)
from tests.integration.test_oms_support import Service, wait_until

pytestmark = pytest.mark.integration

MS = 1_000_000


@pytest.fixture
async def venue(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[VenueFeedsBed]:
    async with venue_feeds_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


async def test_a_stalled_venue_feed_is_left_within_the_limit_and_returned_to_after_the_heal(
        venue: VenueFeedsBed) -> None:
    svc = await venue.oms()
    armed_ns = await venue.fault("feed_stall", feed="A")
    await wait_until(lambda: venue.selected(svc, "B"), 5, "the switch to B")
    status, order = await venue.order(svc)
    assert status == 201, order

    healed_ns = await venue.heal("feed_stall")
    await wait_until(lambda: venue.selected(svc, "A"), 5, "the switch back to A")
    back = await wait_until(lambda: venue.switch("B", "A"), 5, "the switch back on oms.feeds")
    away = venue.switch("A", "B")
    assert away is not None
    assert away["t_ns"] - armed_ns <= (LIMIT_MS + 1000) * MS
    assert _silent_ms(away["reason"]) > LIMIT_MS  # left once older than the limit, not before
    assert back["t_ns"] - healed_ns >= SWITCH_BACK_MS * MS
    priced = await wait_until(lambda: venue.pricing(), 5, "the pricing record")
    assert priced[0]["feed"] == "B"


async def test_gaps_duplicates_and_reordering_are_absorbed_without_leaving_the_primary(
        venue: VenueFeedsBed) -> None:
    svc = await venue.oms()
    await venue.fault("feed_gap", feed="A", every_n=25)
    await wait_until(lambda: _counter_at_least(venue, svc, "recoveries", 2), 10, "two gaps recovered")
    await venue.heal("feed_gap")
    await venue.fault("feed_duplicate", feed="A")
    await wait_until(lambda: _counter_at_least(venue, svc, "duplicates", 20), 10, "duplicates ignored")
    await venue.heal("feed_duplicate")
    await venue.fault("feed_reorder", feed="A")
    deep = await wait_until(lambda: _counter_at_least(venue, svc, "duplicates", 60), 10,
                            "late updates ignored")
    assert deep["selected"] == "A"
    status, order = await venue.order(svc)
    assert status == 201, order
    assert [e for e in venue.feeds_events() if e["switch"] and e["previous"] == "A"] == []


async def test_a_frozen_feed_and_a_crossed_feed_are_each_left_for_the_healthy_one(
        venue: VenueFeedsBed) -> None:
    svc = await venue.oms()
    await venue.fault("feed_stale", feed="A")
    deep = await wait_until(lambda: _selected_with(venue, svc, "B", "A", "frozen"), 10,
                            "A frozen, B selected")
    assert deep["feeds"]["A"]["age_ms"] < LIMIT_MS  # alive by age: only its prices give it away
    await venue.heal("feed_stale")
    await wait_until(lambda: venue.selected(svc, "A"), 10, "back to A")

    await venue.fault("feed_crossed", feed="A")
    await wait_until(lambda: _selected_with(venue, svc, "B", "A", "crossed"), 5, "A crossed, B selected")


async def test_a_drifting_feed_stops_pricing_until_a_fill_proves_it_wrong(venue: VenueFeedsBed) -> None:
    svc = await venue.oms()
    limit = round(venue.mid() * 0.995, 2)
    status, resting = await venue.order(svc, type="limit", price=limit)  # 50 bp under the market: it rests
    assert status == 201, resting

    await venue.fault("feed_drift", feed="A", bp=300)
    await wait_until(lambda: _suspended(venue, svc), 5, "BTC-USD suspended")
    status, refused = await venue.order(svc, type="limit", price=limit)
    assert (status, refused["error"]) == (503, "market data diverged")

    venue.bed.venue.engine.prices["BTC-USD"].mid = limit - 0.2  # the market falls through the resting bid
    deep = await wait_until(lambda: _selected_with(venue, svc, "B", "A", "diverged"), 5, "A judged wrong")
    assert str(limit) in deep["feeds"]["A"]["reason"]
    status, order = await venue.order(svc)
    assert status == 201, order
    assert order["price"] < limit * 1.01  # priced off B, near the market; A would be 3 % higher


async def test_both_feeds_stalled_trip_the_breaker_and_after_the_heal_an_operator_rearms(
        venue: VenueFeedsBed) -> None:
    svc = await venue.oms()
    status, resting = await venue.order(svc, type="limit", price=round(venue.mid() * 0.99, 2))
    assert status == 201, resting
    armed_ns = await venue.fault("feed_stall", feed="*")
    [tripped] = await wait_until(lambda: venue.bed.alerts("BreakerTripped", "oms-blue"), 5, "the trip")
    assert tripped["reason"] == "feed-loss"
    alerts = venue.bed.messages("alerts", "oms-blue")
    trip_ns = next(a["t_ns"] for a in alerts if a["alert"] == "BreakerTripped")
    assert tripped["no_feed_for_ms"] >= TRIP_MS
    assert (LIMIT_MS + TRIP_MS - 100) * MS <= trip_ns - armed_ns <= (LIMIT_MS + TRIP_MS + 1000) * MS
    await wait_until(lambda: _none_open(venue), 5, "the resting order cancelled")
    assert (await venue.bed.admin(svc, "/admin/rearm"))[0] == 409

    await venue.heal("feed_stall")
    await wait_until(lambda: _usable(venue, svc), 5, "a feed usable again")
    status, halted = await venue.order(svc)
    assert (status, halted["error"]) == (503, "halted")
    status, rearmed = await venue.bed.admin(svc, "/admin/rearm", **{"X-Operator": "bob"})
    assert status == 200, rearmed
    assert (await venue.order(svc))[0] == 201


@pytest.mark.parametrize(("defect", "fault"), [
    ("no-feed-failover", {"kind": "feed_stall", "feed": "A"}),
    ("no-divergence-check", {"kind": "feed_drift", "feed": "A", "bp": 300}),
    ("no-feed-breaker", {"kind": "feed_stall", "feed": "*"}),
])
async def test_each_defect_fails_the_check_its_behaviour_passes(venue: VenueFeedsBed, defect: str,
                                                                 fault: dict[str, Any]) -> None:
    svc = await venue.oms(defects=(defect,))
    kind = fault.pop("kind")
    armed = time.monotonic()
    await venue.fault(kind, **fault)
    # well past the moment the correct stack acts (switch, suspension or trip)
    lasting_s = (LIMIT_MS + 2 * TRIP_MS) / 1000
    await wait_until(lambda: time.monotonic() - armed > lasting_s, 5, "the fault to last")
    deep = await venue.deep(svc)
    status, order = await venue.order(svc)
    if defect == "no-feed-failover":
        assert deep["selected"] == "A"
        assert deep["feeds"]["B"]["health"] == "healthy"
        assert (status, order["error"]) == (503, "market data unusable")  # B was there to trade on
    elif defect == "no-divergence-check":
        assert deep["suspended"] == {}
        assert deep["selected"] == "A"
        assert status == 201, order
        assert order["price"] > venue.mid() * 1.025  # priced off A's drifted ask
    else:
        assert status == 201, order  # with no usable feed at all
        priced = await wait_until(lambda: venue.pricing(), 5, "the pricing record")
        assert priced[-1]["quote_age_ms"] > LIMIT_MS
        assert venue.bed.alerts("BreakerTripped") == []


def _silent_ms(reason: str) -> float:
    found = re.match(r"A stale: no message for ([0-9.]+) ms", reason)
    assert found is not None, reason
    return float(found.group(1))


async def _counter_at_least(venue: VenueFeedsBed, svc: Service, counter: str,
                            n: int) -> dict[str, Any] | None:
    deep = await venue.deep(svc)
    return deep if deep["feeds"]["A"][counter] >= n else None


async def _selected_with(venue: VenueFeedsBed, svc: Service, selected: str, feed: str,
                         health: str) -> dict[str, Any] | None:
    deep = await venue.deep(svc)
    return deep if deep["selected"] == selected and deep["feeds"][feed]["health"] == health else None


async def _suspended(venue: VenueFeedsBed, svc: Service) -> bool:
    return "BTC-USD" in (await venue.deep(svc))["suspended"]


async def _usable(venue: VenueFeedsBed, svc: Service) -> bool:
    return (await venue.deep(svc))["selected"] is not None


async def _none_open(venue: VenueFeedsBed) -> bool:
    return await venue.bed.open_at_venue() == []
