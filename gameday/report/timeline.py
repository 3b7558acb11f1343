"""The run's timeline: faults, operator actions and the deploy phases as lanes of spans.

Read off the history alone, so ``gameday analyze`` draws it too. The deploy lane comes from the
deployer's ``deploy.phases``: shadow and verification, the cutover, the rollback window while
green is live with blue parked, a rollback (docs/deploy.md §6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from html import escape
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from gameday.checkers.deploy_records import PhaseEvent, Subject, subject_recorded
from gameday.checkers.records import Reference, parse
from gameday.errors import CheckerError
from gameday.history import Op, OpKind, OpType

__all__ = ["PHASE_LABELS", "TIMELINE_JSON", "TIMELINE_SVG", "Lane", "Span", "Timeline", "build_timeline",
           "timeline_svg", "write_timeline"]

TIMELINE_JSON = "timeline.json"
TIMELINE_SVG = "timeline.svg"

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


_LANE_HEIGHT, _LEFT, _WIDTH = 28, 80, 900
_COLOURS = {Lane.FAULTS: "#d9534f", Lane.ACTIONS: "#5bc0de", Lane.DEPLOY: "#5cb85c"}


def timeline_svg(timeline: Timeline) -> str:
    """The timeline as a standalone SVG: one row per lane, time from left to right."""
    start = min((span.start_s for span in timeline.spans), default=0.0)
    scale = _WIDTH / max(timeline.end_s - start, 1e-9)
    rows = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LEFT + _WIDTH + 20}" '
            f'height="{_LANE_HEIGHT * len(Lane) + 30}" font-family="sans-serif" font-size="10">']
    for row, lane in enumerate(Lane):
        y = row * _LANE_HEIGHT + 5
        rows.append(f'<text x="4" y="{y + 16}">{lane.value}</text>')
        for span in timeline.lane(lane):
            x = _LEFT + (span.start_s - start) * scale
            width = max((span.end_s - span.start_s) * scale, 2)
            title = escape(f"{span.label} {span.start_s:.2f}s-{span.end_s:.2f}s {span.outcome or ''}".strip())
            rows.append(f'<g><title>{title}</title><rect x="{x:.1f}" y="{y}" width="{width:.1f}" '
                        f'height="{_LANE_HEIGHT - 8}" fill="{_COLOURS[lane]}" fill-opacity="0.6"/>'
                        f'<text x="{x + 2:.1f}" y="{y + 14}">{escape(span.label)}</text></g>')
    axis_y = _LANE_HEIGHT * len(Lane) + 20
    rows.append(f'<text x="{_LEFT}" y="{axis_y}">{start:.1f}s</text>'
                f'<text x="{_LEFT + _WIDTH - 30}" y="{axis_y}">{timeline.end_s:.1f}s</text>'
                f'<text x="{_LEFT + 60}" y="{axis_y}">from {escape(str(timeline.origin.get("from")))}</text>')
    rows.append("</svg>")
    return "\n".join(rows) + "\n"


def write_timeline(ops: Sequence[Op], directory: Path) -> Timeline:
    """Write ``timeline.json`` and ``timeline.svg`` into ``directory``."""
    timeline = build_timeline(ops)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / TIMELINE_JSON).write_text(timeline.model_dump_json(indent=1) + "\n", encoding="utf-8")
    (directory / TIMELINE_SVG).write_text(timeline_svg(timeline), encoding="utf-8")
    return timeline
