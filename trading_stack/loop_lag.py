"""How late this process's event loop wakes up: the evidence that an instance was starved.

A task asks to wake every ``interval_s`` and records how much later than asked it ran. The last
``window_s`` of samples give p50 / p99 / max, served in ``/health/deep`` and published on NATS
(``<prefix>.looplag``) once a second.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SAMPLE_INTERVAL_S = 0.1
WINDOW_S = 10.0
PUBLISH_EVERY = 10  # samples


@dataclass(frozen=True)
class LagSummary:
    p50_ms: float
    p99_ms: float
    max_ms: float
    samples: int

    def as_dict(self) -> dict[str, float | int]:
        return {"p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "max_ms": self.max_ms, "samples": self.samples}


def summarize(lags_ms: list[float]) -> LagSummary:
    """Nearest-rank percentiles of the samples (all zero when there are none)."""
    if not lags_ms:
        return LagSummary(0.0, 0.0, 0.0, 0)
    ordered = sorted(lags_ms)

    def rank(q: float) -> float:
        return ordered[min(len(ordered), max(1, math.ceil(q * len(ordered)))) - 1]

    return LagSummary(round(rank(0.50), 3), round(rank(0.99), 3), round(ordered[-1], 3), len(ordered))


class LoopLagMonitor:
    def __init__(self, publish: Callable[[Mapping[str, float | int]], None] | None = None,
                 interval_s: float = SAMPLE_INTERVAL_S, window_s: float = WINDOW_S) -> None:
        self._interval_s = interval_s
        self._samples: deque[float] = deque(maxlen=max(1, int(window_s / interval_s)))
        self._publish = publish
        self.worst_ms = 0.0

    def summary(self) -> LagSummary:
        return summarize(list(self._samples))

    def recent_max_ms(self, samples: int) -> float:
        """The worst of the last ``samples`` samples (0 when there are none)."""
        recent = list(self._samples)[-samples:]
        return max(recent, default=0.0)

    def record(self, lag_ms: float) -> None:
        self._samples.append(lag_ms)
        self.worst_ms = max(self.worst_ms, lag_ms)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        taken = 0
        while True:
            asked = loop.time() + self._interval_s
            await asyncio.sleep(self._interval_s)
            self.record(max(0.0, (loop.time() - asked) * 1000.0))
            taken += 1
            if self._publish is not None and taken % PUBLISH_EVERY == 0:
                self._publish(self.summary().as_dict())
