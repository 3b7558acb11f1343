"""Each OMS instance's role and health over the run, as lanes of states.

The role comes from what the instance published (``oms.roles``); while the health probe got no
answer from it, it is ``down`` (a killed instance publishes nothing more, so its last role would
otherwise run on). An instance that published no role (a stack without NATS) shows the roles the
health probe read. Health is what each ``probe-health`` sample said: ``deep ok``, ``not deep ok``
(it answered, its deep check did not pass) or ``no answer``.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from gameday.checkers.deploy_records import Subject
from gameday.history import Op, OpKind, OpType
from gameday.report.data_model import Clock, Lane, LaneItem, LaneKind

__all__ = ["DOWN", "HEALTH_STATES", "instance_lanes"]

DOWN = "down"
HEALTH_STATES = ("deep ok", "not deep ok", "no answer")
_RESTORE = ""


@dataclass(frozen=True)
class _Reading:
    t_s: float
    role: str | None
    health: str


def _health_readings(ops: Sequence[Op], clock: Clock) -> dict[str, list[_Reading]]:
    found: dict[str, list[_Reading]] = {}
    for op in ops:
        if op.kind != OpKind.PROBE or op.f != "health" or op.type != OpType.OK:
            continue
        instances = op.value.get("instances")
        if not isinstance(instances, dict):
            continue
        for name, state in instances.items():
            if not isinstance(state, dict):
                continue
            role = state.get("role") if isinstance(state.get("role"), str) else None
            health = HEALTH_STATES[2] if role is None else HEALTH_STATES[0 if state.get("deep_ok") else 1]
            found.setdefault(str(name), []).append(_Reading(clock.s(op.t_ns), role, health))
    return found


def _role_events(ops: Sequence[Op], clock: Clock) -> dict[str, list[tuple[float, str]]]:
    found: dict[str, list[tuple[float, str]]] = {}
    for op in ops:
        if op.kind != OpKind.SUT or not Subject.OMS_ROLES.matches(op.process):
            continue
        instance, role = op.value.get("instance"), op.value.get("role")
        if isinstance(instance, str) and isinstance(role, str):
            found.setdefault(instance, []).append((clock.s(op.t_ns), role))
    return found


def _states(changes: Sequence[tuple[float, str]], end_s: float, tone: str = "") -> tuple[LaneItem, ...]:
    """Consecutive equal states merged; each lasts to the next change, the last to ``end_s``; what
    happened before the run's start is clipped to it."""
    merged: list[tuple[float, str]] = []
    for t_s, state in sorted(changes, key=lambda change: change[0]):
        if merged and merged[-1][1] == state:
            continue
        merged.append((t_s, state))
    items = []
    for n, (t_s, state) in enumerate(merged):
        following = merged[n + 1][0] if n + 1 < len(merged) else end_s
        if following <= 0 and n + 1 < len(merged):
            continue
        items.append(LaneItem(label=state, start_s=max(0.0, t_s), end_s=max(following, 0.0),
                              tone=f"{tone}{state}"))
    return tuple(items)


def _role_changes(events: Sequence[tuple[float, str]],
                  readings: Sequence[_Reading]) -> list[tuple[float, str]]:
    """Published roles, with the stretches the instance did not answer as ``down``."""
    if not events:
        return [(reading.t_s, reading.role or DOWN) for reading in readings]
    marks: list[tuple[float, int, str]] = [(t_s, 0, role) for t_s, role in events]
    answering = True
    for reading in readings:
        if answering and reading.role is None:
            marks.append((reading.t_s, 1, DOWN))
        elif not answering and reading.role is not None:
            marks.append((reading.t_s, 1, _RESTORE))
        answering = reading.role is not None
    first_event = events[0][0]
    before = next((reading for reading in readings if reading.role is not None), None)
    published: str | None = before.role if before is not None and before.t_s < first_event else None
    changes: list[tuple[float, str]] = []
    down = False
    for t_s, source, state in sorted(marks):
        if source == 0:
            published, down = state, False  # the instance spoke: it is up
            changes.append((t_s, state))
        elif state == DOWN:
            down = True
            changes.append((t_s, DOWN))
        elif down:
            down = False
            changes.append((t_s, published or "unknown"))
    if before is not None and before.t_s < first_event and before.role is not None:
        changes.insert(0, (before.t_s, before.role))
    return changes


def _health_end(readings: Sequence[_Reading], end_s: float) -> float:
    """The last sample stands for one sampling interval; nothing is known after that."""
    gaps = [b.t_s - a.t_s for a, b in itertools.pairwise(readings)]
    step = statistics.median(gaps) if gaps else 0.0
    return min(end_s, readings[-1].t_s + step)


def instance_lanes(ops: Sequence[Op], clock: Clock, end_s: float) -> tuple[Lane, ...]:
    """A role lane and a health lane per instance, in the order the instances were first seen."""
    readings = _health_readings(ops, clock)
    events = _role_events(ops, clock)
    lanes: list[Lane] = []
    for instance in dict.fromkeys([*readings, *events]):
        found = readings.get(instance, [])
        changes = _role_changes(events.get(instance, []), found)
        lanes.append(Lane(key=f"role:{instance}", title=f"{instance} role", kind=LaneKind.STATES,
                          items=_states(changes, end_s)))
        if found:
            health = [(reading.t_s, reading.health) for reading in found]
            lanes.append(Lane(key=f"health:{instance}", title=f"{instance} health", kind=LaneKind.STATES,
                              items=_states(health, _health_end(found, end_s), tone="health:")))
    return tuple(lanes)
