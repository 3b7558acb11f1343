"""``fills.duplicate_booked``: venue executions an OMS instance booked more than once.

What an instance booked is what it published on ``oms.fills`` (one event per fill it booked,
stamped with when it booked it). A venue may send one execution twice (the ``execution_reports``
``duplicate`` fault: the same ExecID in two reports); a correct OMS books it once. An event the
publisher sent again after a lost acknowledgement is the same message byte for byte (same
``t_ns``), so only events of one instance and exec id with *different* booking times are two
bookings. Fills a successor learned from the venue are its own book, not a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.checker_specs import FILLS_DUPLICATE_BOOKED
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import last_op
from gameday.checkers.records import SutEvent, reference, sut_events
from gameday.history import Op, OpKind

__all__ = ["BookedFill", "DuplicateBooked"]

MAX_LISTED = 20


class BookedFill(SutEvent):
    """One fill an instance booked (``oms.fills``)."""

    instance: str
    exec_id: str
    symbol: str | None = None
    qty: int | None = None


def duplicates_armed(ops: Sequence[Op]) -> int:
    """How many times the venue's ledger says the duplicate-execution-report fault was armed."""
    snapshot = last_op(ops, OpKind.LEDGER, "snapshot")
    faults = [] if snapshot is None else snapshot.value.get("faults") or []
    return sum(1 for fault in faults if isinstance(fault, dict) and fault.get("fault") == "execution_reports"
               and fault.get("action") == "arm" and (fault.get("params") or {}).get("mode") == "duplicate")


class DuplicateBooked(Specified):
    spec = FILLS_DUPLICATE_BOOKED
    description = "extra bookings of one venue execution by one OMS instance (oms.fills, by exec id)"

    def check(self, ops: Sequence[Op]) -> Observation:
        booked = sut_events(ops, "fills", BookedFill)
        if not booked:
            return Observation.absent(self.unit, "no oms.fills event in the history")
        bookings: dict[tuple[str, str], list[BookedFill]] = {}
        for fill in booked:
            same = bookings.setdefault((fill.instance, fill.exec_id), [])
            if all(earlier.t_ns != fill.t_ns for earlier in same):
                same.append(fill)
        doubled = {key: fills for key, fills in bookings.items() if len(fills) > 1}
        extra = sum(len(fills) - 1 for fills in doubled.values())
        ref = reference(ops)
        evidence: dict[str, Any] = {
            "booked_events": len(booked),
            "executions": len(bookings),
            "duplicate_fault_armed": duplicates_armed(ops),
            "listed": [{"instance": instance, "exec_id": exec_id, "symbol": fills[0].symbol,
                        "qty": fills[0].qty, "booked": [ref.instant(fill.t_ns) for fill in fills]}
                       for (instance, exec_id), fills in list(doubled.items())[:MAX_LISTED]],
        }
        note = f"each of {len(bookings)} executions booked once per instance"
        if doubled:
            note = f"{len(doubled)} execution(s) booked more than once ({extra} extra booking(s))"
        return Observation(value=extra, unit=self.unit, evidence=evidence, note=note)
