"""Each feed fault over real sockets (issue 16): armed and healed through the admin API, observed by a
WebSocket client of the feed, against the other feed or the venue's own quote; each heal restores
normal publishing, and each change is a ledger line.

A frame counts as published under a fault when it was sent (``sent_ns``, the venue's monotonic
clock, the same on this host) after the ``PUT`` answered, and as published after the heal when it
was sent after the ``DELETE`` answered: frames in flight across a change are left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mock_exchange.venue import Venue
from tests.integration.test_venue_feeds import (
    HEARTBEAT_S,
    STILL,
    SYMBOLS,
    TIMEOUT_S,
    FeedClient,
    Frame,
    consecutive,
    feed_venue_config,
    running,
)
from tests.integration.venue_helpers import arm_fault, call_json, get_json, heal_fault

pytestmark = pytest.mark.integration


async def arm(venue: Venue, kind: str, **params: Any) -> int:
    """Arm a feed fault; the venue's clock once it answered."""
    stored = await arm_fault(venue.admin_port, kind, **params)
    assert stored["kind"] == kind
    return time.monotonic_ns()


async def heal(venue: Venue, kind: str) -> int:
    await heal_fault(venue.admin_port, kind)
    return time.monotonic_ns()


async def updates_after(client: FeedClient, t_ns: int, count: int, timeout_s: float = TIMEOUT_S,
                        ) -> list[Frame]:
    """The next ``count`` updates sent after ``t_ns``."""
    found: list[Frame] = []
    async with asyncio.timeout(timeout_s):
        while len(found) < count:
            found += [frame for frame in await client.updates(1) if frame["sent_ns"] > t_ns]
    return found


async def frames_within(client: FeedClient, seconds: float) -> list[Frame]:
    """Every frame read in the next ``seconds`` (a window in which something must not happen)."""
    frames: list[Frame] = []
    deadline = time.monotonic() + seconds
    with contextlib.suppress(TimeoutError):
        while (left := deadline - time.monotonic()) > 0:
            frames.append(await client.next(left))
    return frames


async def fault_lines(venue: Venue, kind: str) -> list[tuple[str, str | None]]:
    """The ledger's lines for ``kind``: (action, the feed it named)."""
    status, ledger = await get_json(venue.admin_port, "/ledger")
    assert status == 200
    return [(line["action"], (line["params"] or {}).get("feed")) for line in ledger["faults"]
            if line["fault"] == kind]


@contextlib.asynccontextmanager
async def two_feeds(tmp_path: Path, **overrides: Any) -> Any:
    async with running(feed_venue_config(tmp_path, **overrides)) as venue, \
            FeedClient.connect(venue.feed_ports["A"]) as a, FeedClient.connect(venue.feed_ports["B"]) as b:
        await a.subscribe()
        await b.subscribe()
        yield venue, a, b


async def test_stall_sends_nothing_for_many_heartbeats_and_the_socket_stays_open(tmp_path: Path) -> None:
    async with two_feeds(tmp_path) as (venue, a, b):
        await a.updates(3)
        armed = await arm(venue, "feed_stall", feed="A")
        seq_before = venue.market_data.feeds["A"].seq
        await a.send("snapshot", symbols=["BTC-USD"])
        quiet = await frames_within(a, 6 * HEARTBEAT_S)
        assert [frame for frame in quiet if frame["sent_ns"] > armed] == [], "no update, heartbeat or answer"
        assert not a.ws.closed
        assert len(await updates_after(b, armed, 5)) == 5, "the other feed goes on"
        await heal(venue, "feed_stall")
        answered = await a.until(lambda f: f["type"] == "snapshot")
        assert answered[-1]["symbol"] == "BTC-USD", "the snapshot asked for during the stall"
        assert answered[-1]["seq"] == seq_before, "a stalled feed numbers nothing"
        after = await a.updates(10)  # the window above read every frame sent before the stall
        assert consecutive([seq_before] + [frame["seq"] for frame in after]), "no seq was spent"
        assert await fault_lines(venue, "feed_stall") == [("arm", "A"), ("heal", None)]


async def test_gap_skips_seqs_and_a_snapshot_recovers(tmp_path: Path) -> None:
    async with two_feeds(tmp_path) as (venue, a, _):
        armed = await arm(venue, "feed_gap", feed="A", every_n=3)
        gapped = [frame["seq"] for frame in await updates_after(a, armed, 30)]
        jumps = [later - earlier for earlier, later in itertools.pairwise(gapped)]
        assert set(jumps) == {1, 2}, jumps
        assert jumps.count(2) >= 8, "one seq in three is spent without being sent"
        await a.send("snapshot")
        answer = await a.until(lambda f: f["type"] == "snapshot")
        snapshots = [frame for frame in answer if frame["type"] == "snapshot"]
        assert snapshots[-1]["seq"] >= gapped[-1]
        healed = await heal(venue, "feed_gap")
        assert consecutive([frame["seq"] for frame in await updates_after(a, healed, 30)])
        assert await fault_lines(venue, "feed_gap") == [("arm", "A"), ("heal", None)]
    md = [line for line in venue.ledger.market_data if line["kind"] == "md" and line["feed"] == "A"]
    assert sum(line["dropped"] for line in md) >= 10


async def test_stale_freezes_prices_while_seqs_advance_and_the_truth_moves(tmp_path: Path) -> None:
    async with two_feeds(tmp_path, a_rate=100.0) as (venue, a, b):
        armed = await arm(venue, "feed_stale", feed="A")
        stale = await updates_after(a, armed, 40)
        assert consecutive([frame["seq"] for frame in stale]), "seqs advance"
        for symbol in SYMBOLS:
            shown = {(f["bid"], f["ask"], f["last"]) for f in stale if f["symbol"] == symbol}
            assert len(shown) == 1, f"{symbol} frozen"
        truth = {f["bid"] for f in await updates_after(b, armed, 40) if f["symbol"] == "BTC-USD"}
        assert len(truth) > 1, "meanwhile the venue's price moved (feed B follows it)"
        healed = await heal(venue, "feed_stale")
        moving = {f["bid"] for f in await updates_after(a, healed, 40) if f["symbol"] == "BTC-USD"}
        assert len(moving) > 1
        assert await fault_lines(venue, "feed_stale") == [("arm", "A"), ("heal", None)]


def bp_off(a: Frame, b: Frame) -> float:
    return (a["last"] / b["last"] - 1.0) * 10_000


async def test_drift_puts_one_feeds_prices_bp_away_from_the_other(tmp_path: Path) -> None:
    async with two_feeds(tmp_path, symbols=STILL) as (venue, a, b):
        armed = await arm(venue, "feed_drift", feed="A", bp=40.0)
        drifted = {frame["symbol"]: frame for frame in await updates_after(a, armed, 4)}
        straight = {frame["symbol"]: frame for frame in await updates_after(b, armed, 4)}
        for symbol in SYMBOLS:
            assert bp_off(drifted[symbol], straight[symbol]) == pytest.approx(40.0, abs=0.1)
            assert drifted[symbol]["ask"] - drifted[symbol]["bid"] == pytest.approx(0.02), "the spread stays"
        assert drifted["BTC-USD"]["last"] == 60_240.0
        healed = await heal(venue, "feed_drift")
        again = {frame["symbol"]: frame for frame in await updates_after(a, healed, 4)}
        assert all(bp_off(again[symbol], straight[symbol]) == 0 for symbol in SYMBOLS)
        assert await fault_lines(venue, "feed_drift") == [("arm", "A"), ("heal", None)]


async def test_crossed_puts_the_bid_above_the_ask_of_the_symbols_it_names(tmp_path: Path) -> None:
    async with two_feeds(tmp_path) as (venue, a, b):
        armed = await arm(venue, "feed_crossed", feed="*", symbols=["ETH-USD"])
        for client in (a, b):
            frames = await updates_after(client, armed, 10)
            assert all(frame["bid"] > frame["ask"] for frame in frames if frame["symbol"] == "ETH-USD")
            assert all(frame["bid"] < frame["ask"] for frame in frames if frame["symbol"] == "BTC-USD")
        healed = await heal(venue, "feed_crossed")
        assert all(frame["bid"] < frame["ask"] for frame in await updates_after(a, healed, 10))
        assert await fault_lines(venue, "feed_crossed") == [("arm", "*"), ("heal", None)]


async def test_duplicate_sends_each_update_twice(tmp_path: Path) -> None:
    async with two_feeds(tmp_path) as (venue, a, b):
        armed = await arm(venue, "feed_duplicate", feed="B")
        seqs = [frame["seq"] for frame in await updates_after(b, armed, 20)]
        pairs = list(zip(seqs[::2], seqs[1::2], strict=True))
        if pairs[0][0] != pairs[0][1]:  # the first frame after the arm was the second copy
            seqs = seqs[1:-1]
            pairs = list(zip(seqs[::2], seqs[1::2], strict=True))
        assert all(first == second for first, second in pairs), seqs
        assert consecutive([first for first, _ in pairs])
        assert consecutive([frame["seq"] for frame in await updates_after(a, armed, 10)]), "A is not B"
        healed = await heal(venue, "feed_duplicate")
        assert consecutive([frame["seq"] for frame in await updates_after(b, healed, 20)])
        assert await fault_lines(venue, "feed_duplicate") == [("arm", "B"), ("heal", None)]


async def test_reorder_swaps_adjacent_updates_and_loses_none(tmp_path: Path) -> None:
    async with two_feeds(tmp_path) as (venue, a, _):
        armed = await arm(venue, "feed_reorder", feed="A")
        seqs = [frame["seq"] for frame in await updates_after(a, armed, 20)]
        assert sum(later < earlier for earlier, later in itertools.pairwise(seqs)) >= 8, seqs
        healed = await heal(venue, "feed_reorder")
        after = await a.until(lambda f: f["type"] == "update" and f["sent_ns"] > healed)
        rest = [frame["seq"] for frame in await updates_after(a, healed, 20)]
        assert rest == sorted(rest), "in order again"
        everything = seqs + [frame["seq"] for frame in after if frame["type"] == "update"] + rest
        assert set(range(min(seqs), max(rest) + 1)) <= set(everything), "nothing lost"
        assert await fault_lines(venue, "feed_reorder") == [("arm", "A"), ("heal", None)]


def rate(frames: list[Frame]) -> float:
    """Updates a second, from the seqs and send times."""
    return (frames[-1]["seq"] - frames[0]["seq"]) / ((frames[-1]["sent_ns"] - frames[0]["sent_ns"]) / 1e9)


async def test_burst_multiplies_the_update_rate(tmp_path: Path) -> None:
    async with two_feeds(tmp_path, a_rate=20.0) as (venue, a, _):
        before = rate(await a.updates(20))
        armed = await arm(venue, "feed_burst", feed="A", multiplier=10)
        during = rate(await updates_after(a, armed, 300))
        assert during > 5 * before, (before, during)
        healed = await heal(venue, "feed_burst")
        after = rate(await updates_after(a, healed, 20))
        assert after < 2 * before, (before, after)
        assert await fault_lines(venue, "feed_burst") == [("arm", "A"), ("heal", None)]


async def test_a_stall_of_every_feed_is_one_fault(tmp_path: Path) -> None:
    async with two_feeds(tmp_path) as (venue, a, b):
        armed = await arm(venue, "feed_stall", feed="*")
        quiet = await asyncio.gather(frames_within(a, 4 * HEARTBEAT_S), frames_within(b, 4 * HEARTBEAT_S))
        assert [frame for frames in quiet for frame in frames if frame["sent_ns"] > armed] == []
        healed = await heal(venue, "feed_stall")
        assert [len(await updates_after(client, healed, 3)) for client in (a, b)] == [3, 3]


async def test_the_admin_api_switches_feed_faults_like_any_exchange_fault(tmp_path: Path) -> None:
    async with running(feed_venue_config(tmp_path)) as venue:
        port = venue.admin_port
        status, stored = await call_json(port, "PUT", "/faults/feed_gap", {"feed": "B"})
        assert (status, stored) == (200, {"kind": "feed_gap", "feed": "B", "symbols": None, "every_n": 10,
                                          "session": None})
        status, listed = await call_json(port, "GET", "/faults")
        assert listed == {"faults": [stored]}
        for body, problem in (
            ({"feed": "C"}, "feed_gap: feed: unknown feed 'C'; known: A, B"),
            ({"feed": "A", "every_n": -1}, "feed_gap: every_n: Input should be greater than or equal to 1"),
            ({"feed": "A", "symbols": ["DOGE-USD"]}, "feed_gap: symbols: unknown symbol(s) 'DOGE-USD'"),
            ([1], "feed_gap: the body must be a JSON object of fault parameters"),
        ):
            status, answer = await call_json(port, "PUT", "/faults/feed_gap", body)
            assert status == 400
            assert answer["error"].startswith(problem), answer
        async with aiohttp.ClientSession() as http, http.put(
                f"http://127.0.0.1:{port}/faults/feed_drift", data=b'{"feed": "A", "bp": NaN}') as response:
            assert response.status == 400
        assert (await call_json(port, "GET", "/faults"))[1] == {"faults": [stored]}, "nothing else armed"
        assert (await call_json(port, "DELETE", "/faults"))[0] == 204
        assert (await call_json(port, "DELETE", "/faults/feed_gap"))[0] == 204, "healing twice is fine"
        assert await fault_lines(venue, "feed_gap") == [("arm", "B"), ("heal", None)]
