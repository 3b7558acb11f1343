"""Clocks: the one place that reads time, so logic can be driven by an injected clock."""

from __future__ import annotations

import time
from collections.abc import Callable

MonotonicNs = Callable[[], int]


def monotonic_ns() -> int:
    return time.monotonic_ns()


NS_PER_S = 1_000_000_000


def seconds_to_ns(seconds: float) -> int:
    return int(seconds * NS_PER_S)
