"""Deployment checkers read off the deploy timeline and the venue's ledger (docs/deploy.md §6).

- ``deploy.cutover_done``: whether a cutover completed.
- ``deploy.cutover_gap``: how long client traffic stopped at the venue while it moved to green.
- ``deploy.live_versions``: most OMS versions taking orders at one instant (an instance takes orders
  through a stretch of orders less than a second apart at the venue).
- ``deploy.rollback_time``: from green misbehaving (its first rejected order, the first fault the
  harness applied after the cutover, or the deployer's own trigger, whichever came first) to the
  rollback being done.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from gameday.checker_specs import (
    DEPLOY_CUTOVER_DONE,
    DEPLOY_CUTOVER_GAP,
    DEPLOY_LIVE_VERSIONS,
    DEPLOY_ROLLBACK_TIME,
)
from gameday.checkers.base import Observation, Specified
from gameday.checkers.deploy_records import (
    Milestone,
    PhaseEvent,
    VersionSeen,
    elapsed,
    first_milestone,
    first_trigger,
    phases,
    versions_seen,
)
from gameday.checkers.evidence import OrderStatus
from gameday.checkers.ledger_timeline import (
    LedgerTimeline,
    TimedOrder,
    attributed_orders,
    ledger_timeline,
    most_at_once,
    stretches,
)
from gameday.checkers.records import Reference, applied_faults, reference, seconds
from gameday.history import Op

__all__ = ["CutoverDone", "CutoverGap", "LiveVersions", "RollbackTime"]

MAX_LISTED = 10
_NO_PHASES = "no deploy.phases event recorded (no deployer ran, or its subjects were not recorded)"


def _phase_list(events: Sequence[PhaseEvent], ref: Reference) -> list[dict[str, Any]]:
    return [{"phase": event.phase, "reason": event.reason, **ref.instant(event.t_ns)} for event in events]


class CutoverDone(Specified):
    spec = DEPLOY_CUTOVER_DONE
    description = "1 when the deployer completed a cutover to green (cutover-done), else 0"

    def check(self, ops: Sequence[Op]) -> Observation:
        events = phases(ops)
        if not events:
            return Observation.absent(self.unit, _NO_PHASES)
        ref = reference(ops)
        done = first_milestone(events, Milestone.CUTOVER_DONE)
        final = events[-1]
        return Observation(
            value=0 if done is None else 1, unit=self.unit,
            evidence={"reference": ref.describe(), "phases": _phase_list(events, ref)[:3 * MAX_LISTED],
                      "final_phase": final.phase},
            note=f"final phase {final.phase} ({final.reason})" if done is None
            else f"cut over at {ref.after_s(done.t_ns)}s",
        )


@dataclass(frozen=True)
class _Cutover:
    events: list[PhaseEvent]
    done: PhaseEvent
    timeline: LedgerTimeline


def _cutover(ops: Sequence[Op]) -> _Cutover | str:
    """The deploy timeline with its first cutover-done, and the ledger; or why they are absent."""
    events = phases(ops)
    if not events:
        return _NO_PHASES
    done = first_milestone(events, Milestone.CUTOVER_DONE)
    if done is None:
        return "no cutover-done in the deploy timeline"
    timeline = ledger_timeline(ops)
    if timeline is None:
        return "no ledger snapshot in the history"
    return _Cutover(events, done, timeline)


def _new_instance_first_order(orders: Sequence[TimedOrder], started_ns: int, done_ns: int,
                              ) -> TimedOrder | None:
    """The first order of the instance that took the traffic: the first one received after the cutover."""
    taker = next((order.instance for order in orders if order.received_ns >= done_ns), None)
    return next((order for order in orders if order.instance == taker and order.received_ns >= started_ns),
                None)


class CutoverGap(Specified):
    spec = DEPLOY_CUTOVER_GAP
    description = "last order the venue received before green's first one after the cutover, to that order"

    def check(self, ops: Sequence[Op]) -> Observation:
        cutover = _cutover(ops)
        if isinstance(cutover, str):
            return Observation.absent(self.unit, cutover)
        done = cutover.done
        started = first_milestone(cutover.events, Milestone.CUTOVER_STARTED)
        started_ns = done.t_ns if started is None or started.t_ns > done.t_ns else started.t_ns
        orders = attributed_orders(cutover.timeline)
        ref = reference(ops)
        evidence: dict[str, Any] = {"reference": ref.describe(), "cutover_started": ref.instant(started_ns),
                                    "cutover_done": ref.instant(done.t_ns)}
        first_new = _new_instance_first_order(orders, started_ns, done.t_ns)
        if first_new is None:
            return Observation(value=None, unit=self.unit, unbounded=True, evidence=evidence,
                               note="no order reached the venue after the cutover")
        before = [order for order in orders
                  if order.instance != first_new.instance and order.received_ns <= first_new.received_ns]
        if not before:
            note = f"no order of another instance before {first_new.instance}'s first"
            return Observation.absent(self.unit, note, **evidence)
        last_old = before[-1]
        gap = seconds(first_new.received_ns - last_old.received_ns)
        evidence.update(last_before={"instance": last_old.instance, "cl_ord_id": last_old.cl_ord_id,
                                     **ref.instant(last_old.received_ns)},
                        first_after={"instance": first_new.instance, "cl_ord_id": first_new.cl_ord_id,
                                     **ref.instant(first_new.received_ns)})
        return Observation(value=gap, unit=self.unit, evidence=evidence,
                           note=f"{last_old.instance} -> {first_new.instance}: {gap}s without an order")


class _Versions:
    """The version each instance ran over time, as it announced it (roles events, health probe)."""

    def __init__(self, announced: Sequence[VersionSeen]) -> None:
        self._by_instance: dict[str, list[VersionSeen]] = defaultdict(list)
        for seen in sorted(announced, key=lambda seen: seen.t_ns):
            self._by_instance[seen.instance].append(seen)

    def at(self, instance: str, t_ns: int) -> str | None:
        """The latest version seen at or before ``t_ns``, else the first seen."""
        seen = self._by_instance.get(instance)
        if not seen:
            return None
        earlier = [entry for entry in seen if entry.t_ns <= t_ns]
        return (earlier[-1] if earlier else seen[0]).version


def _received_by_version(orders: Sequence[TimedOrder], versions: _Versions,
                         ) -> tuple[dict[str, list[int]], set[str]]:
    """When the venue received each version's orders, and the instances whose version is unknown."""
    received: dict[str, list[int]] = defaultdict(list)
    unversioned: set[str] = set()
    for order in orders:
        instance = order.instance or ""
        version = versions.at(instance, order.received_ns)
        if version is None:
            unversioned.add(instance)
        else:
            received[version].append(order.received_ns)
    return received, unversioned


class LiveVersions(Specified):
    spec = DEPLOY_LIVE_VERSIONS
    description = "most distinct OMS versions with an order received at the venue within any 1 s"

    def check(self, ops: Sequence[Op]) -> Observation:
        timeline = ledger_timeline(ops)
        if timeline is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        orders = attributed_orders(timeline)
        if not orders:
            return Observation.absent(self.unit, "the ledger holds no attributed orders")
        received, unversioned = _received_by_version(orders, _Versions(versions_seen(ops)))
        if unversioned:
            note = f"no version seen (oms.roles, health probe) for {', '.join(sorted(unversioned))}"
            return Observation.absent(self.unit, note)
        segments = stretches(received)
        ref = reference(ops)
        together = [{"versions": [a.key, b.key], "from": ref.instant(span[0]), "to": ref.instant(span[1])}
                    for a, b in combinations(segments, 2) if (span := a.overlap(b)) is not None]
        return Observation(
            value=most_at_once(segments), unit=self.unit,
            evidence={"reference": ref.describe(),
                      "orders_by_version": {version: len(received[version]) for version in sorted(received)},
                      "together": together[:MAX_LISTED]},
            note=f"versions {', '.join(sorted(received))}; "
            + (f"{len(together)} stretch(es) of two versions live" if together else "one live at a time"),
        )


class RollbackTime(Specified):
    spec = DEPLOY_ROLLBACK_TIME
    description = ("green's first rejected order, the first fault applied or the deployer's first trigger "
                   "after the cutover -> rollback-done")

    def check(self, ops: Sequence[Op]) -> Observation:
        cutover = _cutover(ops)
        if isinstance(cutover, str):
            return Observation.absent(self.unit, cutover)
        events, done = cutover.events, cutover.done
        rejected = [order for order in attributed_orders(cutover.timeline)
                    if order.status is OrderStatus.REJECTED and order.received_ns >= done.t_ns]
        triggered = first_trigger(events, after_ns=done.t_ns)
        fault = next((op for op in applied_faults(ops) if op.t_ns >= done.t_ns), None)
        starts = [t for t in (rejected[0].received_ns if rejected else None,
                              triggered.t_ns if triggered else None,
                              fault.t_ns if fault else None) if t is not None]
        if not starts:
            note = "no order rejected, no fault applied, no trigger after the cutover: nothing to roll back"
            return Observation.absent(self.unit, note)
        start = min(starts)
        ref = reference(ops)
        rolled_back = first_milestone(events, Milestone.ROLLBACK_DONE, after_ns=start)
        evidence: dict[str, Any] = {
            "reference": ref.describe(), "cutover_done": ref.instant(done.t_ns), "from": ref.instant(start),
            "rejected_after_cutover": len(rejected),
            "trigger": None if triggered is None else {"reason": triggered.reason,
                                                       **ref.instant(triggered.t_ns)},
            "first_fault": None if fault is None else {"fault": fault.f, **ref.instant(fault.t_ns)},
            "first_rejected": None if not rejected else {"cl_ord_id": rejected[0].cl_ord_id,
                                                         "instance": rejected[0].instance},
        }
        evidence["rollback_done"] = None if rolled_back is None else ref.instant(rolled_back.t_ns)
        return elapsed(start, None if rolled_back is None else rolled_back.t_ns, evidence,
                       done="rolled back {took}s after green first misbehaved",
                       never=f"never rolled back; final phase {events[-1].phase}")
