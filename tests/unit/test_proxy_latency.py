"""The latency stage: due times, order, the end of the stream, restarts and removal.

Times are the stage's own stamps (a released chunk carries its due time), so they are checked
exactly; the release itself is only checked never to come before the due time.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from gameday.proxy import gojson
from gameday.proxy.latency import CLOCK_RESOLUTION, LatencyStage
from gameday.proxy.stub import Chunk, Item
from gameday.proxy.toxics import LatencyToxic, build_toxic

LONG_MS = 10_000  # a latency no test waits for


class Recorder:
    """The stage's output: each item with the loop time it arrived."""

    def __init__(self, expected: int) -> None:
        self.loop = asyncio.get_running_loop()
        self.items: list[tuple[float, Item]] = []
        self._expected = expected
        self.complete = self.loop.create_future()

    def put(self, item: Item) -> None:
        self.items.append((self.loop.time(), item))
        if len(self.items) == self._expected and not self.complete.done():
            self.complete.set_result(None)

    def data(self) -> list[bytes | None]:
        return [None if item is None else item.data for _, item in self.items]


class FakeLink:
    def __init__(self) -> None:
        self.polls = 0
        self.poll_times: list[float] = []

    def discard(self, nbytes: int) -> None:
        raise AssertionError("latency drops nothing")

    def close_connection(self) -> None:
        raise AssertionError("latency closes nothing")

    def reset_connection(self) -> None:
        raise AssertionError("latency resets nothing")

    def poll_control(self) -> None:
        self.polls += 1
        self.poll_times.append(asyncio.get_running_loop().time())


def latency(**attributes: Any) -> LatencyToxic:
    toxic = build_toxic("latency", gojson.parse(gojson.dumps(attributes).encode()))
    assert isinstance(toxic, LatencyToxic)
    return toxic


def stage(toxic: LatencyToxic, output: Any, toxicity: float = 1.0, link: Any = None) -> LatencyStage:
    new = LatencyStage(toxic, toxicity, output, link or FakeLink(), random.Random(5))
    new.start()
    return new


def now() -> float:
    return asyncio.get_running_loop().time()


async def test_chunks_keep_their_order_when_jitter_rolls_a_later_one_earlier() -> None:
    recorder = Recorder(expected=40)
    link = FakeLink()
    jittery = stage(latency(latency=20, jitter=15), recorder, link=link)
    read_at = now()
    for index in range(40):
        jittery.put(Chunk(bytes([index]), read_at))
    await asyncio.wait_for(recorder.complete, 5)
    assert recorder.data() == [bytes([index]) for index in range(40)]
    stamps = [item.ts for _, item in recorder.items if item is not None]
    assert all(read_at + 0.005 <= stamp < read_at + 0.035 for stamp in stamps)
    arrivals = [arrived for arrived, _ in recorder.items]
    assert all(arrived >= stamp - CLOCK_RESOLUTION for arrived, stamp in zip(arrivals, stamps, strict=True))
    assert link.polls >= 1  # each timer asks the API's operations to run first


async def test_stacked_stages_add_up_and_the_end_follows_the_last_chunk() -> None:
    recorder = Recorder(expected=2)
    second = stage(latency(latency=30), recorder)
    first = stage(latency(latency=20), second.input)
    read_at = now()
    first.put(Chunk(b"data", read_at))
    first.put(None)
    await asyncio.wait_for(recorder.complete, 5)
    (arrived, chunk), (_, end) = recorder.items
    assert chunk is not None
    assert chunk.ts == read_at + 0.020 + 0.030
    assert arrived >= chunk.ts - CLOCK_RESOLUTION
    assert end is None


async def test_a_restart_with_a_failed_roll_delivers_what_it_held_at_once() -> None:
    recorder = Recorder(expected=4)
    held = stage(latency(latency=LONG_MS), recorder)
    for data in (b"a", b"b", b"c"):
        held.put(Chunk(data, now()))
    assert recorder.items == []
    held.toxicity = 0.0
    held.restart()
    held.put(Chunk(b"d", now()))
    assert recorder.data() == [b"a", b"b", b"c", b"d"]


async def test_an_update_recomputes_the_due_time_of_held_chunks() -> None:
    recorder = Recorder(expected=1)
    toxic = latency(latency=LONG_MS)
    held = stage(toxic, recorder)
    read_at = now()
    held.put(Chunk(b"a", read_at))
    toxic.attrs = latency(latency=0).attrs
    held.restart()
    assert recorder.data() == [b"a"]
    assert recorder.items[0][1] == Chunk(b"a", read_at)


async def test_a_stopped_stage_hands_over_what_it_holds_in_order() -> None:
    recorder = Recorder(expected=1)
    held = stage(latency(latency=LONG_MS), recorder)
    first, second, late = Chunk(b"a", now()), Chunk(b"b", now()), Chunk(b"c", now())
    held.put(first)
    held.put(second)
    held.put(None)
    await held.stop()
    held.put(late)  # arrived before the link rewired the chain
    assert held.leftovers() == [first, second, None, late]
    assert held.leftovers() == []
    assert recorder.items == []


async def test_a_long_wait_wakes_at_most_one_percent_early_and_releases_at_the_due_time() -> None:
    recorder = Recorder(expected=1)
    link = FakeLink()
    held = stage(latency(latency=200), recorder, link=link)
    read_at = now()
    held.put(Chunk(b"a", read_at))
    await asyncio.wait_for(recorder.complete, 5)
    ((arrived, chunk),) = recorder.items
    assert chunk is not None
    assert chunk.ts == read_at + 0.200
    assert arrived >= chunk.ts - CLOCK_RESOLUTION
    assert link.poll_times[0] >= chunk.ts - 0.002 - CLOCK_RESOLUTION  # 1 % of the 200 ms wait
    assert len(link.poll_times) <= 2  # the early wake-up, then the due time
