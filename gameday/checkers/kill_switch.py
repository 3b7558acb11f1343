"""The manual kill switch, graded from the venue's ledger (seed 003: kill switches "operate
independently of the main trading logic, making them resilient to core system failures"; seed 001's
RTOs: how long to halt, how long to be flat).

The *trip* is the first ``kill-switch`` operator action that succeeded, pressed when it was invoked;
the *re-arm* the first successful ``rearm`` action after it. The tripped span runs from the trip to
the re-arm's invoke (to the end of the workload without one). An *entry* is an order that does not
merely reduce its symbol's position at the venue (:mod:`gameday.checkers.breaker_ledger`), whichever
instance sent it: a failover or a restart while tripped must not trade either.

- ``killswitch.entries_while_tripped``: entries the venue received in the tripped span, beyond those
  already on the wire when the kill switch answered (``IN_FLIGHT_NS``).
- ``killswitch.time_to_halt``: trip → the last entry received in the span (0 when none); unbounded
  while entries were still arriving at its end.
- ``killswitch.time_to_flat``: trip → every position 0 with no order open at the venue.
- ``killswitch.time_to_resume``: re-arm answered → the first entry the venue received after it;
  unbounded when none came.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gameday.checker_specs import (
    KILLSWITCH_ENTRIES_WHILE_TRIPPED,
    KILLSWITCH_TIME_TO_FLAT,
    KILLSWITCH_TIME_TO_HALT,
    KILLSWITCH_TIME_TO_RESUME,
)
from gameday.checkers.base import Observation
from gameday.checkers.breaker import (
    entries_after,
    listed,
    split_in_flight,
    time_to_flat,
    time_to_last_entry,
    workload_end_ns,
)
from gameday.checkers.breaker_ledger import PositionedOrder
from gameday.checkers.deploy_records import elapsed
from gameday.checkers.ledger_timeline import LedgerTimeline
from gameday.checkers.premise import PremisedChecker, ledger_or_reason
from gameday.checkers.records import Reference, action_runs
from gameday.history import Op, OpType

__all__ = ["EntriesWhileTripped", "ManualTimeToFlat", "ManualTimeToHalt", "TimeToResume",
           "kill_switch_checkers"]

KILL_SWITCH = "kill-switch"
REARM = "rearm"


@dataclass(frozen=True)
class _Tripped:
    timeline: LedgerTimeline
    ref: Reference
    pressed_ns: int
    answered_ns: int
    operator: str | None
    rearm_invoked_ns: int | None
    rearm_answered_ns: int | None
    span_end_ns: int

    def entries(self) -> list[PositionedOrder]:
        """Entries the venue received after the kill switch was pressed, in receipt order."""
        return entries_after(self.timeline, self.pressed_ns)

    def in_span(self) -> list[PositionedOrder]:
        return [entry for entry in self.entries() if entry.order.received_ns < self.span_end_ns]

    def evidence(self) -> dict[str, Any]:
        ref = self.ref
        rearm = None
        if self.rearm_invoked_ns is not None and self.rearm_answered_ns is not None:
            rearm = {"invoked": ref.instant(self.rearm_invoked_ns),
                     "answered": ref.instant(self.rearm_answered_ns)}
        return {"reference": ref.describe(), "operator": self.operator,
                "trip": {"pressed": ref.instant(self.pressed_ns), "answered": ref.instant(self.answered_ns)},
                "rearm": rearm, "tripped_until": ref.instant(self.span_end_ns)}


def _succeeded(ops: Sequence[Op], f: str, after_ns: int = 0) -> tuple[Op, Op] | None:
    return next(((invoke, done) for invoke, done in action_runs(ops, f)
                 if done is not None and done.type == OpType.OK and invoke.t_ns >= after_ns), None)


def _tripped(ops: Sequence[Op]) -> _Tripped | str:
    trip = _succeeded(ops, KILL_SWITCH)
    if trip is None:
        return "no kill-switch action succeeded"
    timeline = ledger_or_reason(ops)
    if isinstance(timeline, str):
        return timeline
    pressed, answered = trip
    rearm = _succeeded(ops, REARM, after_ns=pressed.t_ns)
    rearm_invoked = None if rearm is None else rearm[0].t_ns
    end = rearm_invoked if rearm_invoked is not None else workload_end_ns(ops, timeline)
    operator = pressed.value.get("operator")
    return _Tripped(timeline, Reference("kill switch pressed", pressed.t_ns), pressed.t_ns, answered.t_ns,
                    operator if isinstance(operator, str) else None, rearm_invoked,
                    None if rearm is None else rearm[1].t_ns, end)


class _WhileTripped(PremisedChecker[_Tripped]):
    def premise(self, ops: Sequence[Op]) -> _Tripped | str:
        return _tripped(ops)


class EntriesWhileTripped(_WhileTripped):
    spec = KILLSWITCH_ENTRIES_WHILE_TRIPPED
    description = "entry orders the venue received, from any instance, between the kill switch and its re-arm"

    def grade(self, found: _Tripped, ops: Sequence[Op]) -> Observation:
        ref = found.ref
        in_flight, late = split_in_flight(found.in_span(), found.answered_ns)
        by_instance: dict[str, int] = {}
        for entry in late:
            key = entry.order.instance or "unattributed"
            by_instance[key] = by_instance.get(key, 0) + 1
        return Observation(
            value=len(late), unit=self.unit,
            evidence={**found.evidence(), "by_instance": by_instance, "in_flight": listed(in_flight, ref),
                      "entries": listed(late, ref)},
            note=f"{len(late)} entries while tripped" + (f" ({by_instance})" if by_instance else ""),
        )


class ManualTimeToHalt(_WhileTripped):
    spec = KILLSWITCH_TIME_TO_HALT
    description = "kill switch pressed -> the last entry order the venue received before the re-arm"

    def grade(self, found: _Tripped, ops: Sequence[Op]) -> Observation:
        span = found.in_span()
        evidence = {**found.evidence(), "entries": len(span), "last_entries": listed(span[-10:], found.ref)}
        return time_to_last_entry(found.pressed_ns, span, found.span_end_ns, evidence,
                                  after="the kill switch", until="at its re-arm")


class ManualTimeToFlat(_WhileTripped):
    spec = KILLSWITCH_TIME_TO_FLAT
    description = "kill switch pressed -> every position 0 with no order open at the venue"

    def grade(self, found: _Tripped, ops: Sequence[Op]) -> Observation:
        return time_to_flat(found.timeline, found.pressed_ns, found.evidence(), found.ref,
                            after="the kill switch")


class TimeToResume(_WhileTripped):
    spec = KILLSWITCH_TIME_TO_RESUME
    description = "re-arm answered -> the first entry order the venue received after it"

    def grade(self, found: _Tripped, ops: Sequence[Op]) -> Observation:
        rearmed = found.rearm_answered_ns
        if rearmed is None:
            return Observation.absent(self.unit, "no rearm action succeeded after the kill switch",
                                      **found.evidence())
        first = next((entry for entry in found.entries() if entry.order.received_ns > rearmed), None)
        evidence = {**found.evidence(),
                    "first_entry": None if first is None else listed([first], found.ref)[0]}
        return elapsed(rearmed, None if first is None else first.order.received_ns, evidence,
                       done="trading again {took}s after the re-arm", never="no entry order after the re-arm")


def kill_switch_checkers() -> tuple[EntriesWhileTripped, ManualTimeToHalt, ManualTimeToFlat, TimeToResume]:
    return EntriesWhileTripped(), ManualTimeToHalt(), ManualTimeToFlat(), TimeToResume()
