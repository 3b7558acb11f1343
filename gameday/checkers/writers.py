"""``writers.concurrent_active``: the most OMS instances sending orders to the venue at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gameday.checker_specs import WRITERS_CONCURRENT_ACTIVE
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import LedgerOrder, ledger_snapshot
from gameday.history import Op

__all__ = ["ConcurrentWriters", "WriterSpan", "max_overlap", "writer_spans"]

MAX_LISTED_ORDERS = 20


@dataclass(frozen=True)
class WriterSpan:
    """The time an instance was sending: from its first order to its last, as the venue received them."""

    instance: str
    first_ns: int
    last_ns: int
    orders: int


def writer_spans(orders: Sequence[LedgerOrder]) -> list[WriterSpan]:
    received: dict[str, list[int]] = {}
    for order in orders:
        if order.instance is not None:
            received.setdefault(order.instance, []).append(order.received_ns)
    spans = [WriterSpan(name, min(times), max(times), len(times)) for name, times in received.items()]
    return sorted(spans, key=lambda span: (span.first_ns, span.instance))


def max_overlap(spans: Sequence[WriterSpan]) -> int:
    """Most spans covering one instant (closed intervals: a shared endpoint overlaps)."""
    starts_first = [(span.first_ns, 0) for span in spans] + [(span.last_ns, 1) for span in spans]
    current = best = 0
    for _, is_end in sorted(starts_first):
        current += -1 if is_end else 1
        best = max(best, current)
    return best


def _late_orders(orders: Sequence[LedgerOrder], superseded: WriterSpan,
                 successor: WriterSpan) -> list[dict[str, object]]:
    """The superseded instance's orders the venue received once its successor had started sending."""
    late = sorted(
        (order for order in orders
         if order.instance == superseded.instance and order.received_ns >= successor.first_ns),
        key=lambda order: order.received_ns,
    )
    return [
        {"cl_ord_id": order.cl_ord_id, "received_ns": order.received_ns, "symbol": order.symbol,
         "status": str(order.status),
         "after_successor_s": round((order.received_ns - successor.first_ns) / 1e9, 6)}
        for order in late
    ]


class ConcurrentWriters(Specified):
    spec = WRITERS_CONCURRENT_ACTIVE
    description = "most OMS instances whose order-sending spans at the venue overlap"

    def check(self, ops: Sequence[Op]) -> Observation:
        ledger = ledger_snapshot(ops)
        if ledger is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        spans = writer_spans(ledger.orders)
        if not spans:
            return Observation.absent(self.unit, "the ledger holds no attributed orders")
        violations = []
        for index, successor in enumerate(spans):
            for superseded in spans[:index]:
                if superseded.last_ns >= successor.first_ns:
                    late = _late_orders(ledger.orders, superseded, successor)
                    violations.append({
                        "superseded": superseded.instance,
                        "successor": successor.instance,
                        "late_orders": len(late),
                        "orders": late[:MAX_LISTED_ORDERS],
                    })
        overlap = max_overlap(spans)
        unattributed = sum(1 for order in ledger.orders if order.instance is None)
        return Observation(
            value=overlap,
            unit=self.unit,
            evidence={
                "writers": {span.instance: {"first_ns": span.first_ns, "last_ns": span.last_ns,
                                            "orders": span.orders} for span in spans},
                "violations": violations,
                "unattributed_orders": unattributed,
            },
            note=" then ".join(span.instance for span in spans) if overlap <= 1
            else f"{len(violations)} overlapping writer pair(s)",
        )
