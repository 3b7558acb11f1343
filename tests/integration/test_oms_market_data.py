"""A real OMS process consuming two stand-in feeds over real sockets, trading at the real venue
(issue 16): failover between feeds and back, gap recovery, divergence judged by an execution, the
feed breaker, the rule that nothing is priced off a stale feed, and each defect failing its check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_deploy_support import pg_cache
from tests.integration.test_oms_market_data_support import (
    LIMIT_MS,
    SWITCH_BACK_MS,
    SYMBOLS,
    TRIP_MS,
    MdBed,
    md_bed,
)
from tests.integration.test_oms_support import Service, wait_until

pytestmark = pytest.mark.integration

MS = 1_000_000


@pytest.fixture
async def md(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MdBed]:
    async with md_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


async def test_the_oms_fails_over_when_the_primary_stalls_and_back_once_it_has_recovered(md: MdBed) -> None:
    svc = await md.oms()
    assert (await md.order(svc))[0] == 201

    stalled_ns = time.monotonic_ns()
    md.feeds["A"].stalled = True
    await wait_until(lambda: md.selected(svc, "B"), 5, "the switch to B")
    deep = await md.deep(svc)
    assert deep["feeds"]["A"]["health"] == "stale"
    assert deep["feeds"]["A"]["age_ms"] > LIMIT_MS
    assert deep["feeds"]["B"]["health"] == "healthy"
    assert deep["feeds"]["B"]["age_ms"] < LIMIT_MS
    status, order = await md.order(svc)
    assert status == 201, order
    priced = await wait_until(lambda: [p for p in md.pricing() if p["order_id"] == order["order_id"]], 5,
                              "the pricing record")
    assert priced[0]["feed"] == "B"
    assert priced[0]["quote_age_ms"] <= LIMIT_MS

    resumed_ns = time.monotonic_ns()
    md.feeds["A"].stalled = False
    await wait_until(lambda: md.selected(svc, "A"), 5, "the switch back to A")
    back = await wait_until(lambda: md.switch("B", "A"), 5, "the switch back on oms.feeds")
    away = md.switch("A", "B")
    assert away is not None
    assert away["reason"].startswith("A stale: no message for")
    assert away["t_ns"] - stalled_ns <= 2000 * MS
    silent_ms = float(away["reason"].removeprefix("A stale: no message for ").split(" ")[0])
    assert silent_ms > LIMIT_MS  # left once older than the limit, not before
    assert back["reason"].startswith("back to A")
    assert back["t_ns"] - resumed_ns >= SWITCH_BACK_MS * MS  # healthy for the hold first


async def test_a_sequence_gap_is_recovered_by_a_snapshot_without_leaving_the_feed(md: MdBed) -> None:
    svc = await md.oms()
    md.feeds["A"].skip = 3

    await wait_until(lambda: md.feeds["A"].snapshot_requests, 5, "a snapshot request")
    deep = await wait_until(lambda: _recovered(md, svc), 5, "the gap recovered")
    assert deep["feeds"]["A"]["gaps"] >= 1
    assert deep["selected"] == "A"
    assert md.feeds["A"].snapshot_requests[0] == list(SYMBOLS)
    assert ("A", "B") not in md.switches()


async def test_a_gap_the_feed_never_recovers_fails_over(md: MdBed) -> None:
    svc = await md.oms()
    md.feeds["A"].answers_snapshots = False
    md.feeds["A"].skip = 1

    await wait_until(lambda: md.selected(svc, "B"), 5, "the switch to B")
    deep = await md.deep(svc)
    assert deep["feeds"]["A"]["health"] == "gapped"
    assert len(md.feeds["A"].snapshot_requests) >= 2


async def test_a_divergence_stops_pricing_until_an_execution_says_which_feed_is_wrong(md: MdBed) -> None:
    svc = await md.oms()
    status, resting = await md.order(svc, type="limit", price=99.5)  # the venue's ask is 100.01: it rests
    assert status == 201, resting

    md.feeds["A"].drift_bp = 300  # the primary goes 3 % high, quietly
    deep = await wait_until(lambda: _suspended(md, svc), 5, "BTC-USD suspended")
    assert "diverge by" in deep["suspended"]["BTC-USD"]
    assert deep["selected"] == "A"
    status, refused = await md.order(svc, type="limit", price=100.0)
    assert (status, refused["error"]) == (503, "market data diverged")

    md.set_mid("BTC-USD", 99.4)  # the market comes down to the resting buy: the venue fills it at 99.5
    await wait_until(lambda: md.selected(svc, "B"), 5, "the switch to B")
    deep = await md.deep(svc)
    assert deep["feeds"]["A"]["health"] == "diverged"
    assert "99.5" in deep["feeds"]["A"]["reason"]
    status, order = await md.order(svc)
    assert status == 201, order
    assert order["price"] == 99.91  # B's ask 99.41 + 50 bp, up to the tick; A would have said 102.9


async def test_total_feed_loss_trips_the_breaker_cancels_and_rearms_only_with_a_feed_and_an_operator(
        md: MdBed) -> None:
    svc = await md.oms()
    status, resting = await md.order(svc, type="limit", price=99.5)
    assert status == 201, resting

    lost_ns = time.monotonic_ns()
    md.feeds["A"].stalled = md.feeds["B"].stalled = True
    [tripped] = await wait_until(lambda: md.bed.alerts("BreakerTripped", "oms-blue"), 5, "the trip")
    assert (tripped["reason"], tripped["flatten"]) == ("feed-loss", False)
    trip_ns = next(a["t_ns"] for a in md.bed.messages("alerts", "oms-blue") if a["alert"] == "BreakerTripped")
    assert tripped["no_feed_for_ms"] >= TRIP_MS  # a blip shorter than the bound would not have tripped it
    # the feeds' last messages came at most one update interval before they stalled
    assert (LIMIT_MS + TRIP_MS - 100) * MS <= trip_ns - lost_ns <= 2500 * MS
    await wait_until(lambda: _none_open(md), 5, "the resting order cancelled at the venue")
    status, halted = await md.order(svc)
    assert (status, halted["error"], halted["reason"]) == (503, "halted", "feed-loss")
    status, refused = await md.bed.admin(svc, "/admin/rearm")
    assert (status, refused["error"]) == (409, "no usable feed")

    md.feeds["B"].stalled = False
    await wait_until(lambda: _healthy(md, svc, "B"), 5, "B healthy again")
    assert (await md.order(svc))[0] == 503  # a feed is back; trading is not, until an operator says so
    assert (await md.bed.call(svc, "POST", "/admin/rearm"))[0] == 401
    status, rearmed = await md.bed.admin(svc, "/admin/rearm", **{"X-Operator": "alice"})
    assert (status, rearmed) == (200, {"state": "armed", "selected": "B"})
    status, order = await md.order(svc)
    assert status == 201, order
    [rearm] = await wait_until(lambda: md.bed.alerts("BreakerRearmed", "oms-blue"), 5, "the re-arm alert")
    assert rearm["operator"] == "alice"
    _, ledger = await md.bed.venue_api("GET", "/ledger")
    received = sorted(o["received_ns"] for o in ledger["orders"])
    assert [t for t in received if t > trip_ns] == received[-1:]  # nothing between the trip and the re-arm


async def test_no_order_is_ever_priced_off_a_feed_older_than_its_limit(md: MdBed) -> None:
    svc = await md.oms(total_loss_trip_ms=60_000)  # the pricing rule alone, without the breaker
    answers: list[int] = []

    async def flow() -> None:
        for _ in range(60):
            answers.append((await md.order(svc))[0])
            await asyncio.sleep(0.03)

    async def nemesis() -> None:
        await asyncio.sleep(0.3)
        md.feeds["A"].stalled = True
        await asyncio.sleep(0.4)
        md.feeds["B"].stalled = True  # from ~0.7 s + the limit on, no feed is young enough
        await asyncio.sleep(1.0)
        md.feeds["A"].stalled = False

    await asyncio.gather(flow(), nemesis())
    placed = answers.count(201)
    assert answers.count(503) >= 5
    assert placed >= 20
    assert placed + answers.count(503) == len(answers)
    records = await wait_until(lambda: len(md.pricing()) >= placed and md.pricing(), 5, "the pricing records")
    assert max(r["quote_age_ms"] for r in records) <= LIMIT_MS
    assert {r["feed"] for r in records} == {"A", "B"}
    _, ledger = await md.bed.venue_api("GET", "/ledger")
    assert len(ledger["orders"]) == placed  # a refused order never reached the venue


# -- each defect fails the check its behaviour passes ---------------------------------------


async def test_defect_no_feed_failover_stays_on_the_dead_primary(md: MdBed) -> None:
    svc = await md.oms(defects=("no-feed-failover",))
    md.feeds["A"].stalled = True
    # A silent for twice the limit: a correct OMS has been on B for a while by then
    deep = await wait_until(lambda: _older_than(md, svc, "A", 2 * LIMIT_MS), 5, "A silent for 2x the limit")
    assert deep["selected"] == "A"
    assert deep["feeds"]["B"]["health"] == "healthy"
    status, refused = await md.order(svc)
    assert (status, refused["error"]) == (503, "market data unusable")
    assert ("A", "B") not in md.switches()


async def test_defect_no_divergence_check_prices_off_the_diverged_primary(md: MdBed) -> None:
    svc = await md.oms(defects=("no-divergence-check",))
    md.feeds["A"].drift_bp = 300
    drifted_from = md.feeds["A"].seq + 2
    await wait_until(lambda: _seq_seen(md, svc, "A", drifted_from), 5, "A's drifted updates received")
    status, order = await md.order(svc)
    assert status == 201, order
    assert order["price"] >= 103.5  # 3 % over the market: priced off A's drifted ask
    deep = await md.deep(svc)
    assert deep["suspended"] == {}
    assert deep["selected"] == "A"


async def test_defect_no_feed_breaker_trades_blind_on_the_last_known_prices(md: MdBed) -> None:
    svc = await md.oms(defects=("no-feed-breaker",))
    md.feeds["A"].stalled = md.feeds["B"].stalled = True
    await wait_until(lambda: _selected_none(md, svc), 5, "no usable feed")
    silent_ms = LIMIT_MS + 2 * TRIP_MS  # a correct OMS has tripped by then
    await wait_until(lambda: _older_than(md, svc, "B", silent_ms), 5, "both feeds silent past the trip bound")
    status, order = await md.order(svc)
    assert status == 201, order
    priced = await wait_until(lambda: md.pricing(), 5, "the pricing record")
    assert priced[-1]["quote_age_ms"] > LIMIT_MS
    assert md.bed.alerts("BreakerTripped") == []


# -- conditions ---------------------------------------------------------------------------------


async def _recovered(md: MdBed, svc: Service) -> dict[str, Any] | None:
    deep = await md.deep(svc)
    return deep if deep["feeds"]["A"]["recoveries"] >= 1 else None


async def _suspended(md: MdBed, svc: Service) -> dict[str, Any] | None:
    deep = await md.deep(svc)
    return deep if "BTC-USD" in deep["suspended"] else None


async def _healthy(md: MdBed, svc: Service, feed: str) -> bool:
    return bool((await md.deep(svc))["feeds"][feed]["health"] == "healthy")


async def _older_than(md: MdBed, svc: Service, feed: str, ms: float) -> dict[str, Any] | None:
    deep = await md.deep(svc)
    age = deep["feeds"][feed]["age_ms"]
    return deep if age is not None and age > ms else None


async def _seq_seen(md: MdBed, svc: Service, feed: str, seq: int) -> bool:
    return bool((await md.deep(svc))["feeds"][feed]["seq"] >= seq)


async def _selected_none(md: MdBed, svc: Service) -> bool:
    return await md.selected(svc, None)


async def _none_open(md: MdBed) -> bool:
    return await md.bed.open_at_venue() == []
