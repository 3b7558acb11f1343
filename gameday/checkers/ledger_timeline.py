"""The venue's ledger replayed over time: who sent what when, positions and open orders at an instant.

The final ledger snapshot holds every order with its status events and every fill with its
price and time (docs/contracts.md §3), which is enough to rebuild the firm's state at any
instant of the run without trusting anything an OMS said.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from gameday.checkers.evidence import LedgerFill, LedgerOrder, OrderStatus, Side, last_op
from gameday.checkers.records import parse
from gameday.history import Op, OpKind

__all__ = [
    "LedgerTimeline",
    "PricedFill",
    "StatusEvent",
    "TimedOrder",
    "attributed_orders",
    "gross_before",
    "ledger_timeline",
    "live_segments",
    "most_at_once",
    "reduces",
    "stretches",
]

LIVE_GAP_NS = 1_000_000_000
"""Orders of one instance less than this apart belong to one stretch of taking client traffic."""


class StatusEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    t_ns: int
    status: OrderStatus


class TimedOrder(LedgerOrder):
    """A ledger order with its status history."""

    events: list[StatusEvent] = []

    @property
    def signed_qty(self) -> int:
        return self.qty if self.side is Side.BUY else -self.qty

    @property
    def closed_ns(self) -> int | None:
        """When the order stopped being open; ``None`` while it is still open at the venue.

        A closed order without a closing event (a venue that keeps no events) closes when received.
        """
        closing = next((event.t_ns for event in self.events if not event.status.is_open), None)
        if closing is None and not self.status.is_open:
            return self.received_ns
        return closing

    def open_at(self, t_ns: int) -> bool:
        closed = self.closed_ns
        return self.received_ns <= t_ns and (closed is None or t_ns < closed)


class PricedFill(LedgerFill):
    price: float
    t_ns: int


class LedgerTimeline(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    orders: list[TimedOrder] = []
    fills: list[PricedFill] = []

    def sorted_orders(self) -> list[TimedOrder]:
        return sorted(self.orders, key=lambda order: (order.received_ns, order.cl_ord_id))

    def sorted_fills(self) -> list[PricedFill]:
        return sorted(self.fills, key=lambda fill: (fill.t_ns, fill.exec_id))


def ledger_timeline(ops: Sequence[Op]) -> LedgerTimeline | None:
    """The last ledger snapshot read with times and prices, or ``None`` when there is none."""
    op = last_op(ops, OpKind.LEDGER, "snapshot")
    return None if op is None else parse(LedgerTimeline, op)


def attributed_orders(timeline: LedgerTimeline) -> list[TimedOrder]:
    """Orders the venue attributed to an instance, in the order it received them."""
    return [order for order in timeline.sorted_orders() if order.instance is not None]


@dataclass(frozen=True)
class Segment:
    """A stretch in which ``key`` (an instance, a version) had orders received, none more than a gap apart."""

    key: str
    first_ns: int
    last_ns: int

    def overlap(self, other: Segment) -> tuple[int, int] | None:
        start, end = max(self.first_ns, other.first_ns), min(self.last_ns, other.last_ns)
        return (start, end) if start <= end else None


def stretches(received: Mapping[str, Sequence[int]], gap_ns: int = LIVE_GAP_NS) -> list[Segment]:
    """Each key's stretches of activity, from the times (ascending) its orders were received."""
    segments = []
    for key, times in received.items():
        if not times:
            continue
        first = previous = times[0]
        for t_ns in times[1:]:
            if t_ns - previous > gap_ns:
                segments.append(Segment(key, first, previous))
                first = t_ns
            previous = t_ns
        segments.append(Segment(key, first, previous))
    return sorted(segments, key=lambda segment: (segment.first_ns, segment.key))


def live_segments(orders: Sequence[TimedOrder], gap_ns: int = LIVE_GAP_NS) -> list[Segment]:
    """Every instance's stretches of taking orders (``orders`` sorted by receipt)."""
    times: dict[str, list[int]] = defaultdict(list)
    for order in orders:
        if order.instance is not None:
            times[order.instance].append(order.received_ns)
    return stretches(times, gap_ns)


def most_at_once(segments: Sequence[Segment]) -> int:
    """Most segments covering one instant (closed intervals)."""
    edges = sorted([(s.first_ns, 0) for s in segments] + [(s.last_ns, 1) for s in segments])
    current = best = 0
    for _, is_end in edges:
        current += -1 if is_end else 1
        best = max(best, current)
    return best


class GrossFilled:
    """Gross filled quantity per symbol up to an instant (the denominator of a bps figure)."""

    def __init__(self, fills: Sequence[PricedFill]) -> None:
        self._times: dict[str, list[int]] = defaultdict(list)
        self._cumulative: dict[str, list[int]] = defaultdict(list)
        for fill in sorted(fills, key=lambda fill: fill.t_ns):
            running = self._cumulative[fill.symbol]
            self._times[fill.symbol].append(fill.t_ns)
            running.append((running[-1] if running else 0) + fill.qty)

    def at(self, symbol: str, t_ns: int) -> int:
        times = self._times.get(symbol, [])
        index = bisect.bisect_right(times, t_ns)
        return self._cumulative[symbol][index - 1] if index else 0


def gross_before(fills: Sequence[PricedFill]) -> GrossFilled:
    return GrossFilled(fills)


def reduces(position: int, signed_qty: int) -> bool:
    """An order that only brings a position towards flat (never across it)."""
    return position * signed_qty < 0 and abs(signed_qty) <= abs(position)
