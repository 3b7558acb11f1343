"""The latency toxic on one link, driven by one loop timer instead of a task.

Under load most toxic traffic is latency, and a task per toxic per connection costs two task
steps and a timer per chunk. This stage keeps the chunks it holds in a queue, each with the
loop time it is due, and arms a single timer for the head of the queue.

Semantics are Toxiproxy's: a chunk is due at its read time + latency ± jitter, but leaves no
earlier than the chunk ahead of it (the toxic handles one chunk at a time); the end of the
stream follows the last chunk. A released chunk is stamped with its due time, so stacked
latencies add up. A restart (update, re-roll) recomputes every held chunk's due time; with a
failed toxicity roll the stage passes everything through.
"""

from __future__ import annotations

import asyncio
import collections
import math
import random
import time
from typing import TYPE_CHECKING

from gameday.proxy.stub import Item, LinkControl, Sink

if TYPE_CHECKING:
    from gameday.proxy.toxics import LatencyToxic

# asyncio runs a timer when it is due within the clock's resolution; so does the stage.
CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution
# Linux lets a poll overshoot its timeout by 0.1 % of it (0.5 % in a niced process): 1-5 ms for
# a 1000 ms toxic. A wait longer than LONG_WAIT is therefore cut short by EARLY_SHARE of it and
# re-armed, so the last wait, the one that decides, is short and nearly exact.
EARLY_SHARE = 0.01
LONG_WAIT = 0.02


class LatencyStage:
    """A :class:`~gameday.proxy.stub.Stage` for :class:`~gameday.proxy.toxics.LatencyToxic`."""

    def __init__(
        self,
        toxic: LatencyToxic,
        toxicity: float,
        output: Sink,
        link: LinkControl,
        rng: random.Random,
    ) -> None:
        self.toxic = toxic
        self.toxicity = toxicity
        self.output = output
        self.link = link
        self.rng = rng
        self.running_toxic = False
        self._loop = asyncio.get_running_loop()
        self._queue: collections.deque[tuple[float, Item]] = collections.deque()  # (due, item)
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False

    @property
    def input(self) -> Sink:
        return self

    def start(self) -> None:
        self.running_toxic = self.rng.random() < self.toxicity

    def put(self, item: Item) -> None:
        if self._stopped:
            self._queue.append((-math.inf, item))
        elif not self.running_toxic and not self._queue:
            self.output.put(item)
        else:
            self._queue.append((self._due(item), item))
            if len(self._queue) == 1:
                self._release_due()

    def _due(self, item: Item) -> float:
        if item is None or not self.running_toxic:
            return -math.inf  # right after the item ahead of it
        return item.ts + self.toxic.delay(self.rng)

    def _release_due(self) -> None:
        """Deliver the head of the queue while it is due, then arm the timer for the next one."""
        self._cancel_timer()
        queue = self._queue
        while queue and not self._stopped:
            due, item = queue[0]
            now = self._loop.time()
            if due > now + CLOCK_RESOLUTION:
                wait = due - now
                self._timer = self._loop.call_at(due - wait * EARLY_SHARE if wait > LONG_WAIT else due,
                                                 self._on_timer)
                return
            queue.popleft()
            if item is not None and due > -math.inf:
                item.ts = due
            self.output.put(item)  # may close the connection, and this stage with it

    def _on_timer(self) -> None:
        self._timer = None
        self.link.poll_control()  # a change may restart, stop or cancel this stage
        if not self._stopped:
            self._release_due()

    def restart(self) -> None:
        if self._stopped:
            return
        self.start()
        held = [item for _, item in self._queue]
        self._queue.clear()
        self._cancel_timer()
        for item in held:
            self.put(item)

    async def stop(self) -> None:
        self._stopped = True
        self._cancel_timer()

    def leftovers(self) -> list[Item]:
        held = [item for _, item in self._queue]
        self._queue.clear()
        return held

    def cancel(self) -> None:
        self._stopped = True
        self._cancel_timer()
        self._queue.clear()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
