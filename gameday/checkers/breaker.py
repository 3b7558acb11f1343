"""Circuit-breaker checkers (seed 001's RTOs: how long to halt entries, how long to be flat).

- ``breaker.time_to_halt``: from the first instant the ledger PnL breached the stack's limit to
  the last entry order the venue received after it (0 when none); unbounded while entries were
  still arriving at the end of the workload.
- ``breaker.time_to_flat``: from that breach to every position 0 with no order open.
- ``breaker.entries_after_halt``: entry orders the venue received after the OMS's
  ``BreakerTripped`` alert, beyond orders already on the wire (``IN_FLIGHT_NS``).

The breach is the harness's own reading of the ledger (:mod:`gameday.checkers.breaker_ledger`)
against the limits the run recorded in its ``start`` op, not the OMS's word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gameday.checker_specs import BREAKER_ENTRIES_AFTER_HALT, BREAKER_TIME_TO_FLAT, BREAKER_TIME_TO_HALT
from gameday.checkers.base import Observation, Specified, Unit
from gameday.checkers.breaker_ledger import (
    Breach,
    PositionedOrder,
    first_breach,
    first_flat,
    positioned_orders,
)
from gameday.checkers.deploy_records import BreakerLimits, elapsed, run_start_field
from gameday.checkers.ledger_timeline import LedgerTimeline, ledger_timeline
from gameday.checkers.premise import NO_LEDGER, PremisedChecker, ledger_or_reason
from gameday.checkers.records import AlertEvent, Reference, reference, sut_events
from gameday.history import Op, OpKind, OpType

__all__ = ["BREAKER_TRIPPED", "IN_FLIGHT_NS", "STILL_FLOWING_NS", "EntriesAfterHalt", "TimeToFlat",
           "TimeToHalt", "entries_after", "listed", "split_in_flight", "time_to_flat", "time_to_last_entry",
           "workload_end_ns"]

BREAKER_TRIPPED = "BreakerTripped"
IN_FLIGHT_NS = 50_000_000
"""An entry the venue received this soon after the halt left the OMS before it (listed, not counted)."""
STILL_FLOWING_NS = 1_000_000_000
"""Entries this close to the end of the workload mean entries never stopped."""
MAX_LISTED = 10


@dataclass(frozen=True)
class _Breached:
    timeline: LedgerTimeline
    breach: Breach
    limits: BreakerLimits


def _breached(ops: Sequence[Op]) -> _Breached | str:
    limits = run_start_field(ops, "breaker", BreakerLimits)
    if limits is None:
        return "the run start op records no breaker limits"
    timeline = ledger_or_reason(ops)
    if isinstance(timeline, str):
        return timeline
    breach = first_breach(timeline.sorted_fills(), limits)
    if breach is None:
        return "the ledger PnL never breached the breaker's limits"
    return _Breached(timeline, breach, limits)


def _breach_evidence(found: _Breached, ref: Reference) -> dict[str, Any]:
    breach = found.breach
    return {"reference": ref.describe(), "limits": found.limits.model_dump(exclude_none=True),
            "breach": {"pnl": breach.pnl, "peak": breach.peak, "exec_id": breach.exec_id,
                       **ref.instant(breach.t_ns)}}


def listed(orders: Sequence[PositionedOrder], ref: Reference) -> list[dict[str, Any]]:
    return [{"cl_ord_id": entry.order.cl_ord_id, "instance": entry.order.instance,
             "symbol": entry.order.symbol, "signed_qty": entry.order.signed_qty, "position": entry.position,
             **ref.instant(entry.order.received_ns)} for entry in orders[:MAX_LISTED]]


def entries_after(timeline: LedgerTimeline, after_ns: int) -> list[PositionedOrder]:
    """Entry orders the venue received, from any instance, after ``after_ns``, in receipt order."""
    return [entry for entry in positioned_orders(timeline)
            if entry.is_entry and entry.order.received_ns > after_ns]


def split_in_flight(entries: Sequence[PositionedOrder],
                    halted_ns: int) -> tuple[list[PositionedOrder], list[PositionedOrder]]:
    """``entries`` (received after a halt, in receipt order) as those already on the wire when it
    halted at ``halted_ns`` (received within ``IN_FLIGHT_NS``) and the late ones after them."""
    in_flight = [entry for entry in entries if entry.order.received_ns <= halted_ns + IN_FLIGHT_NS]
    return in_flight, list(entries[len(in_flight):])


def workload_end_ns(ops: Sequence[Op], timeline: LedgerTimeline) -> int:
    invoked = [op.t_ns for op in ops
               if op.kind == OpKind.CLIENT and op.f == "place" and op.type == OpType.INVOKE]
    return max(invoked, default=max((order.received_ns for order in timeline.orders), default=0))


def time_to_last_entry(start_ns: int, entries: Sequence[PositionedOrder], flowing_until_ns: int,
                       evidence: dict[str, Any], *, after: str, until: str) -> Observation:
    """``start_ns`` → the last of ``entries`` (in receipt order): 0 with none, unbounded when the
    last came within ``STILL_FLOWING_NS`` of ``flowing_until_ns`` (entries never stopped)."""
    if not entries:
        return Observation(value=0.0, unit=Unit.SECONDS, evidence=evidence,
                           note=f"no entry order reached the venue after {after}")
    last_ns = entries[-1].order.received_ns
    return elapsed(start_ns, None if last_ns >= flowing_until_ns - STILL_FLOWING_NS else last_ns, evidence,
                   done=f"last of {len(entries)} entries {{took}}s after {after}",
                   never=f"{len(entries)} entries after {after}, still arriving {until}")


def time_to_flat(timeline: LedgerTimeline, start_ns: int, evidence: dict[str, Any], ref: Reference, *,
                 after: str) -> Observation:
    """``start_ns`` → the first instant every position is 0 with no order open at the venue."""
    flat_ns = first_flat(timeline, start_ns)
    evidence = {**evidence, "flat": None if flat_ns is None else ref.instant(flat_ns)}
    return elapsed(start_ns, flat_ns, evidence, done=f"flat {{took}}s after {after}",
                   never=f"never flat with no open order after {after}")


class _AfterBreach(PremisedChecker[_Breached]):
    def premise(self, ops: Sequence[Op]) -> _Breached | str:
        return _breached(ops)


class TimeToHalt(_AfterBreach):
    spec = BREAKER_TIME_TO_HALT
    description = "ledger PnL breach -> last entry (exposure-increasing) order the venue received after it"

    def grade(self, found: _Breached, ops: Sequence[Op]) -> Observation:
        ref, breach = reference(ops), found.breach
        entries = entries_after(found.timeline, breach.t_ns)
        evidence = {**_breach_evidence(found, ref), "entries_after_breach": len(entries),
                    "last_entries": listed(entries[-MAX_LISTED:], ref)}
        return time_to_last_entry(breach.t_ns, entries, workload_end_ns(ops, found.timeline), evidence,
                                  after="the breach", until="at the end")


class TimeToFlat(_AfterBreach):
    spec = BREAKER_TIME_TO_FLAT
    description = "ledger PnL breach -> every position 0 with no order open at the venue"

    def grade(self, found: _Breached, ops: Sequence[Op]) -> Observation:
        ref = reference(ops)
        return time_to_flat(found.timeline, found.breach.t_ns, _breach_evidence(found, ref), ref,
                            after="the breach")


class EntriesAfterHalt(Specified):
    spec = BREAKER_ENTRIES_AFTER_HALT
    description = "entry orders the venue received after the OMS's BreakerTripped alert"

    def check(self, ops: Sequence[Op]) -> Observation:
        timeline = ledger_timeline(ops)
        if timeline is None:
            return Observation.absent(self.unit, NO_LEDGER)
        trips = [alert for alert in sut_events(ops, "alerts", AlertEvent) if alert.alert == BREAKER_TRIPPED]
        if not trips:
            return Observation.absent(self.unit, "no BreakerTripped alert: the breaker never halted")
        ref, halt = reference(ops), trips[0]
        in_flight, late = split_in_flight(entries_after(timeline, halt.t_ns), halt.t_ns)
        return Observation(
            value=len(late), unit=self.unit,
            evidence={"reference": ref.describe(),
                      "halt": {"instance": halt.instance, **ref.instant(halt.t_ns)},
                      "in_flight": listed(in_flight, ref), "entries": listed(late, ref)},
            note=f"{len(late)} entries after {halt.instance} halted"
            + (f" ({len(in_flight)} already on the wire)" if in_flight else ""),
        )
