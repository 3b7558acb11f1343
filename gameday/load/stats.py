"""Per-second load statistics: what the load child records each second, and how a window of them
is summed.

Each second of load is one record (a history op of kind ``load``, ``f`` ``stats``; see
docs/contracts.md §6)::

    {"from_ns", "users", "requests", "failures", "p50_ms", "p95_ms", "p99_ms",
     "histogram": {"<ms>": count, ...},
     "endpoints": {"POST /orders": {"requests", "failures", "p50_ms", "p95_ms", "p99_ms"}, ...},
     "errors": {"POST /orders: ConnectionRefusedError(...)": count, ...}}

covering ``(from_ns, t_ns]`` on the history's clock (``time.monotonic_ns()``). Response times are
kept the way locust keeps them (:func:`rounded_ms`: whole milliseconds below 100 ms, then two
significant digits), so a second's histogram stays small whatever the request rate and a
percentile over any window of seconds is exact up to that rounding. Failed requests count in the
response times, as they do in locust's own statistics.

Pure: no locust, no gevent, no history. The child (:mod:`gameday.load.child`) fills a
:class:`StatsWindow`; the checkers (:mod:`gameday.checkers.load`) merge histograms with
:func:`percentile`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "EXIT_F",
    "LOAD_PROCESS",
    "MAX_ERRORS",
    "START_F",
    "STATS_F",
    "STOP_F",
    "StatsWindow",
    "merged",
    "percentile",
    "rounded_ms",
]

LOAD_PROCESS = "locust"
"""The ``process`` of every load op in the history."""
START_F = "start"
STATS_F = "stats"
STOP_F = "stop"
EXIT_F = "exit"
"""The harness's own record of the child's exit code (not the child's)."""
MAX_ERRORS = 10
"""Distinct errors kept per second (the most frequent); the rest are counted under ``other``."""
PERCENTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}


def rounded_ms(response_ms: float) -> int:
    """A response time as locust's statistics keep it: whole ms below 100 ms, then two significant
    digits (120, 1300, 14000 ...)."""
    if response_ms < 100:
        return max(0, round(response_ms))
    digits = 1 if response_ms < 1000 else 2 if response_ms < 10_000 else 3
    return int(round(response_ms, -digits))


def percentile(histogram: Mapping[int, int], fraction: float) -> float | None:
    """The smallest kept response time at or below which ``fraction`` of the requests fall;
    ``None`` for an empty histogram."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for response_ms in sorted(histogram):
        seen += histogram[response_ms]
        if seen >= rank:
            return float(response_ms)
    return float(max(histogram))  # unreachable: the counts sum to total


def merged(histograms: Iterable[Mapping[int, int]]) -> Counter[int]:
    total: Counter[int] = Counter()
    for histogram in histograms:
        total.update(histogram)
    return total


class _Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.failures = 0
        self.histogram: Counter[int] = Counter()

    def add(self, response_ms: float, failed: bool) -> None:
        self.requests += 1
        self.failures += failed
        self.histogram[rounded_ms(response_ms)] += 1

    def summary(self) -> dict[str, Any]:
        return {"requests": self.requests, "failures": self.failures,
                **{key: percentile(self.histogram, fraction) for key, fraction in PERCENTILES.items()}}


class StatsWindow:
    """The requests of the current second, by endpoint; :meth:`flush` turns them into a record and
    starts the next second. Memory is bounded by the distinct response times and endpoints seen."""

    def __init__(self) -> None:
        self._total = _Tally()
        self._endpoints: dict[str, _Tally] = {}
        self._errors: Counter[str] = Counter()

    def _reset(self) -> None:
        self._total, self._endpoints, self._errors = _Tally(), {}, Counter()

    @property
    def empty(self) -> bool:
        return self._total.requests == 0

    def record(self, endpoint: str, response_ms: float, error: str | None = None) -> None:
        failed = error is not None
        self._total.add(response_ms, failed)
        self._endpoints.setdefault(endpoint, _Tally()).add(response_ms, failed)
        if error is not None:
            self._errors[f"{endpoint}: {error[:200]}"] += 1

    def flush(self, from_ns: int, users: int) -> dict[str, Any]:
        """This second's record (``from_ns`` is when it began), and a fresh second."""
        errors = dict(self._errors.most_common(MAX_ERRORS))
        other = sum(self._errors.values()) - sum(errors.values())
        if other:
            errors["other"] = other
        record = {
            "from_ns": from_ns, "users": users, **self._total.summary(),
            "histogram": {str(ms): count for ms, count in sorted(self._total.histogram.items())},
            "endpoints": {name: tally.summary() for name, tally in sorted(self._endpoints.items())},
            "errors": errors,
        }
        self._reset()
        return record
