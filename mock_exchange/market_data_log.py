"""The ledger's ``md`` and ``price`` lines held in memory, numbered so a reader can page through them.

Lines are numbered 0, 1, 2, ... in the order they were written (a restarted venue numbers its
replayed lines the same way). Only the latest ``capacity`` are held: a reader asking from a
number already dropped gets the oldest line held, and ``first`` says where that is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

Event = dict[str, Any]


@dataclass(frozen=True)
class MarketDataPage:
    lines: list[Event]
    first: int
    """The number of ``lines[0]`` (of the next line to come when ``lines`` is empty)."""
    next: int
    """Where the next page starts; equal to ``total`` once the reader has every line."""
    total: int
    """Lines written so far."""

    def as_dict(self) -> dict[str, Any]:
        return {"lines": self.lines, "first": self.first, "next": self.next, "total": self.total}


class MarketDataLog:
    """The latest ``capacity`` market-data lines, each with its number in the whole stream."""

    def __init__(self, capacity: int) -> None:
        self._lines: deque[Event] = deque(maxlen=capacity)
        self.total = 0

    def append(self, event: Event) -> None:
        self._lines.append(event)
        self.total += 1

    def __iter__(self) -> Iterator[Event]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    @property
    def capacity(self) -> int:
        return self._lines.maxlen or 0

    def page(self, since: int, limit: int) -> MarketDataPage:
        """At most ``limit`` lines from number ``since`` on (from the oldest held if it was dropped)."""
        oldest = self.total - len(self._lines)
        first = min(max(since, oldest), self.total)
        lines = list(islice(self._lines, first - oldest, first - oldest + limit))
        return MarketDataPage(lines, first, first + len(lines), self.total)
