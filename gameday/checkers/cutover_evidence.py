"""``deploy.cutover_on_stale_evidence``: cutovers decided while one side's evidence was stale or absent.

A cutover decision is a ``deploy.phases`` ``cutover-started`` (or ``split-started``, the decision of a
non-atomic cutover; the ``cutover-started`` that finishes a split is not a second decision). At its
instant the decision stood on stale evidence when any of these holds:

- the latest ``deploy.verdicts`` at or before it is missing or not ``clean``;
- that verdict's ``last_blue_ns`` or ``last_green_ns`` is missing or older than its
  ``evidence_window_ns`` at the cutover instant (the newest output of that side is no evidence of now);
- the decision event itself names blockers (a deployer that cut over while saying why it should not);
- blue was not alive by the harness's own health probe: in the latest ``probe-health`` sample at most
  2 s old, blue did not answer, was not deep-healthy or was not ``active``.

The deployer's ``cutover-blocked`` events are not read as blue's state at the cutover: the gate opens
without an event when its blockers clear, so an earlier ``blue-not-alive`` may no longer hold. Blue is
the instance the cutover batch parks (``deploy.actions`` ``set-role`` ``parked``), else the one the
run's start op says was initially active.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from gameday.checker_specs import DEPLOY_CUTOVER_ON_STALE_EVIDENCE
from gameday.checkers.base import Observation, Specified
from gameday.checkers.deploy_records import Milestone, PhaseEvent, Subject, published, subject_recorded
from gameday.checkers.records import Reference, SutEvent, reference, seconds
from gameday.history import Op, OpKind, OpType

__all__ = ["CutoverOnStaleEvidence", "CutoverPhase", "EvidenceVerdict", "decisions"]

CLEAN = "clean"
ACTIVE = "active"
PARKED = "parked"
SPLIT = "split"
HEALTH_MAX_AGE_NS = 2_000_000_000
MAX_LISTED = 10


class CutoverPhase(PhaseEvent):
    """A ``deploy.phases`` event with the batch of actions it started."""

    batch: int | None = None


class EvidenceVerdict(SutEvent):
    """A verdict with the age of each side's evidence (``deploy.verdicts``, docs/deploy.md §4)."""

    verdict: str
    last_blue_ns: int | None = None
    last_green_ns: int | None = None
    evidence_window_ns: int | None = Field(default=None, ge=0)


def decisions(events: Sequence[CutoverPhase]) -> list[CutoverPhase]:
    """The cutover decisions of the deploy timeline."""
    return [event for event in events
            if event.reason == Milestone.SPLIT_STARTED
            or (event.reason == Milestone.CUTOVER_STARTED and event.previous != SPLIT)]


def _parked_in_batch(ops: Sequence[Op], batch: int | None) -> str | None:
    """The instance the decision's batch parks (blue), from the deployer's actions."""
    for op in subject_recorded(ops, Subject.DEPLOY_ACTIONS):
        action = op.value.get("action")
        if (batch is not None and op.value.get("batch") == batch and isinstance(action, dict)
                and action.get("kind") == "set-role" and action.get("role") == PARKED):
            instance = action.get("instance")
            return instance if isinstance(instance, str) else None
    return None


def _initially_active(ops: Sequence[Op]) -> str | None:
    start = next((op for op in ops if op.kind == OpKind.RUN and op.f == "start"), None)
    roles = None if start is None else start.value.get("initial_roles")
    active = [name for name, role in roles.items() if role == ACTIVE] if isinstance(roles, dict) else []
    return active[0] if len(active) == 1 else None


def _health_faults(ops: Sequence[Op], blue: str | None, t_ns: int) -> list[str]:
    """What the harness's latest health sample (at most 2 s old) says is wrong with blue."""
    samples = [op for op in ops if op.kind == OpKind.PROBE and op.f == "health" and op.type == OpType.OK
               and t_ns - HEALTH_MAX_AGE_NS <= op.t_ns <= t_ns]
    if blue is None or not samples:
        return []
    instances = max(samples, key=lambda op: (op.t_ns, op.index)).value.get("instances")
    sample = instances.get(blue) if isinstance(instances, dict) else None
    if not isinstance(sample, dict):
        return []
    if sample.get("role") is None:
        return ["blue-not-alive (health probe)"]
    found = [] if sample.get("deep_ok") else ["blue-unhealthy (health probe)"]
    return found + ([] if sample.get("role") == ACTIVE else ["blue-not-active (health probe)"])


def _evidence_faults(verdict: EvidenceVerdict | None, t_ns: int) -> list[str]:
    if verdict is None:
        return ["no-verdict"]
    found = [] if verdict.verdict == CLEAN else [f"verdict-{verdict.verdict}"]
    window = verdict.evidence_window_ns
    if window is None:
        return found
    for side, last in (("blue", verdict.last_blue_ns), ("green", verdict.last_green_ns)):
        if last is None or t_ns - last > window:
            found.append(f"{side}-no-evidence")
    return found


def _verdict_at(verdicts: Sequence[EvidenceVerdict], t_ns: int) -> EvidenceVerdict | None:
    before = [verdict for verdict in verdicts if verdict.t_ns <= t_ns]
    return before[-1] if before else None


def _describe(decision: CutoverPhase, verdict: EvidenceVerdict | None, blue: str | None, faults: list[str],
              ref: Reference) -> dict[str, Any]:
    def age(last: int | None) -> float | None:
        return None if last is None else seconds(decision.t_ns - last)

    return {
        "reason": decision.reason, "batch": decision.batch, **ref.instant(decision.t_ns), "blue": blue,
        "verdict": None if verdict is None else {
            "verdict": verdict.verdict, **ref.instant(verdict.t_ns),
            "blue_evidence_age_s": age(verdict.last_blue_ns),
            "green_evidence_age_s": age(verdict.last_green_ns),
            "evidence_window_s": None if verdict.evidence_window_ns is None
            else seconds(verdict.evidence_window_ns)},
        "blockers": list(decision.blockers), "stale": faults,
    }


class CutoverOnStaleEvidence(Specified):
    spec = DEPLOY_CUTOVER_ON_STALE_EVIDENCE
    description = ("cutovers decided while the verdict was not clean, a side's newest output was older than "
                   "the evidence window, blockers stood, or blue was not alive")

    def check(self, ops: Sequence[Op]) -> Observation:
        events = sorted(published(ops, Subject.DEPLOY_PHASES, CutoverPhase), key=lambda event: event.t_ns)
        if not events:
            return Observation.absent(self.unit, "no deploy.phases event recorded (no deployer ran, or its "
                                                 "subjects were not recorded)")
        decided = decisions(events)
        ref = reference(ops)
        if not decided:
            note = f"no cutover decided; final phase {events[-1].phase}"
            return Observation(value=0, unit=self.unit, note=note,
                               evidence={"reference": ref.describe(), "cutovers": []})
        verdicts = sorted(published(ops, Subject.DEPLOY_VERDICTS, EvidenceVerdict), key=lambda v: v.t_ns)
        if not verdicts:
            return Observation.absent(self.unit, "no deploy.verdicts recorded: the evidence a cutover stood "
                                                 "on cannot be told")
        graded = []
        for decision in decided:
            verdict = _verdict_at(verdicts, decision.t_ns)
            blue = _parked_in_batch(ops, decision.batch) or _initially_active(ops)
            faults = [*_evidence_faults(verdict, decision.t_ns),
                      *(f"blocker {blocker}" for blocker in decision.blockers),
                      *_health_faults(ops, blue, decision.t_ns)]
            graded.append(_describe(decision, verdict, blue, faults, ref))
        stale = [entry for entry in graded if entry["stale"]]
        note = (f"{len(graded)} cutover(s), each on a clean verdict with fresh evidence from both sides"
                if not stale else
                "; ".join(f"cutover at {entry['after_s']}s on {', '.join(entry['stale'])}"
                          for entry in stale))
        evidence = {"reference": ref.describe(), "cutovers": graded[:MAX_LISTED]}
        return Observation(value=len(stale), unit=self.unit, evidence=evidence, note=note)
