"""The run's timeline: faults, operator actions and the deploy phases as lanes of spans.

Read off the history alone, so ``gameday analyze`` draws it too. The deploy lane comes from the
deployer's ``deploy.phases``: shadow and verification, the cutover, the rollback window while
green is live with blue parked, a rollback (docs/deploy.md §6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from gameday.checkers.deploy_records import PhaseEvent, Subject, subject_recorded
from gameday.checkers.records import Reference, parse
from gameday.errors import CheckerError
from gameday.history import Op, OpKind, OpType

__all__ = ["PHASE_LABELS", "Lane", "Span", "Timeline", "build_timeline"]


PHASE_LABELS = {
    "launching": "launch", "verifying": "shadow / verify", "canary": "canary (live split)",
    "split": "split (both live)", "cutting-over": "cutover", "live": "rollback window",
    "rolling-back": "rollback", "completing": "retire blue", "aborting": "abort",
}
"""How a deploy phase reads on the timeline; phases not listed are shown by name."""
_QUIET_PHASES = frozenset({"idle"})
_FINAL_PHASES = frozenset({"completed", "aborted", "rolled-back", "failed"})
ToSeconds = Callable[[int], float]


class Lane(StrEnum):
    FAULTS = "faults"
    ACTIONS = "actions"
    DEPLOY = "deploy"


class Span(BaseModel):
    """Something that lasted from ``start_s`` to ``end_s`` (seconds from the timeline's origin)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lane: Lane
    label: str
    start_s: float
    end_s: float
    open_ended: bool = False
    """It had not ended when the history did."""
    outcome: str | None = None


class Timeline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    origin: dict[str, Any]
    end_s: float
    spans: tuple[Span, ...]

    def lane(self, lane: Lane) -> list[Span]:
        return [span for span in self.spans if span.lane is lane]


def _fault_spans(ops: Sequence[Op], seconds: ToSeconds, end_s: float) -> list[Span]:
    applied = [op for op in ops if op.kind == OpKind.FAULT and op.type == OpType.OK]
    heals = {op.value.get("fault_id"): seconds(op.t_ns) for op in applied if op.f == "heal"}
    spans = []
    for op in applied:
        if op.f == "heal":
            continue
        healed = heals.get(op.value.get("fault_id"))
        target = op.value.get("proxy") or op.value.get("target") or ""
        label = f"{op.f} {op.value.get('kind', '')} {target}".replace("  ", " ").strip()
        spans.append(Span(lane=Lane.FAULTS, label=label, start_s=seconds(op.t_ns),
                          end_s=end_s if healed is None else healed, open_ended=healed is None))
    return spans


def _action_spans(ops: Sequence[Op], seconds: ToSeconds) -> list[Span]:
    invoked: dict[str, list[Op]] = {}
    spans = []
    for op in ops:
        if op.kind != OpKind.ACTION:
            continue
        if op.type == OpType.INVOKE:
            invoked.setdefault(op.f, []).append(op)
        elif invoked.get(op.f):
            start = invoked[op.f].pop(0)
            spans.append(Span(lane=Lane.ACTIONS, label=op.f, start_s=seconds(start.t_ns),
                              end_s=seconds(op.t_ns), outcome=op.type.value))
    return spans


def _phase(op: Op) -> PhaseEvent | None:
    try:
        return parse(PhaseEvent, op)
    except CheckerError:  # a malformed event is left out of the picture, never breaks the report
        return None


def _deploy_spans(ops: Sequence[Op], seconds: ToSeconds, end_s: float) -> list[Span]:
    parsed = (_phase(op) for op in subject_recorded(ops, Subject.DEPLOY_PHASES))
    events = sorted((event for event in parsed if event is not None), key=lambda event: event.t_ns)
    spans = []
    for index, event in enumerate(events):
        if event.phase in _QUIET_PHASES:
            continue
        following = events[index + 1] if index + 1 < len(events) else None
        final = following is None and event.phase in _FINAL_PHASES
        end = seconds(event.t_ns) if final else end_s if following is None else seconds(following.t_ns)
        spans.append(Span(lane=Lane.DEPLOY, label=PHASE_LABELS.get(event.phase, event.phase),
                          start_s=seconds(event.t_ns), end_s=end, open_ended=following is None and not final,
                          outcome=event.reason))
    return spans


def _origin(ops: Sequence[Op]) -> Reference:
    starts = [op.t_ns for op in ops if op.kind == OpKind.RUN and op.f == "start"]
    if starts:
        return Reference("run start", min(starts))
    return Reference("first recorded op", min((op.t_ns for op in ops), default=0))


def build_timeline(ops: Sequence[Op]) -> Timeline:
    """Every lane's spans, in seconds from the run's start."""
    ref = _origin(ops)
    seconds = ref.after_s
    end_s = seconds(max((op.t_ns for op in ops), default=ref.t_ns))
    spans = [*_fault_spans(ops, seconds, end_s), *_action_spans(ops, seconds),
             *_deploy_spans(ops, seconds, end_s)]
    return Timeline(origin=ref.describe(), end_s=end_s, spans=tuple(sorted(spans, key=lambda s: s.start_s)))
