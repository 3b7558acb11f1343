"""An event loop whose timers fire on time, for the proxy's own process.

``epoll_wait`` takes whole milliseconds and CPython rounds a wait up, so an asyncio timer fires
up to 1 ms late: a latency toxic would add 0.5 ms on average to what it was asked for. The
selector below waits the whole milliseconds in epoll and polls without blocking through the
fraction that is left, so a timer fires within the scheduler's wake-up time. The polling costs
at most that fraction of a millisecond of CPU per wait, only while the loop has nothing else to
do; each poll is a system call, which leaves the interpreter to the other threads.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time

_MS = 1e-3


class PreciseEpollSelector(selectors.EpollSelector):
    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None or timeout <= 0:
            return super().select(timeout)
        deadline = time.monotonic() + timeout
        whole_ms = math.floor(timeout / _MS)
        if whole_ms:
            ready = super().select((whole_ms - 0.5) * _MS)  # rounded up to exactly whole_ms
            if ready:
                return ready
        while True:
            ready = super().select(0)
            if ready or time.monotonic() >= deadline:
                return ready


def precise_event_loop() -> asyncio.AbstractEventLoop:
    """A loop factory (``asyncio.Runner(loop_factory=...)``) with :class:`PreciseEpollSelector`."""
    return asyncio.SelectorEventLoop(PreciseEpollSelector())
