"""Fault windows, measured intervals and the event lanes of a run (faults, actions, deploy, alerts).

Each lane is data: labelled spans and instants in seconds from the run's start. The deploy lane
is the report timeline's (:mod:`gameday.report.timeline`), so both read the deployer alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gameday.checkers.deploy_records import Subject, subject_recorded
from gameday.history import Op, OpKind, OpType
from gameday.report.data_model import Clock, FaultWindow, Interval, Lane, LaneItem, LaneKind
from gameday.report.instance_lanes import instance_lanes
from gameday.report.timeline import Lane as TimelineLane
from gameday.report.timeline import build_timeline
from gameday.verdict import ExpectationResult

__all__ = ["INSTANT_FAULTS", "event_lanes", "fault_windows", "instance_lanes", "measured_intervals"]

INSTANT_FAULTS = frozenset({"kill"})
"""Faults that happen at an instant: a killed process stays down, its heal does nothing."""
_DETAIL_KEYS = ("signal", "mode", "kind", "toxic")
_NOT_PARAMS = frozenset({"fault_id", "fault"})
_QUIET_DECISIONS = frozenset({"healthy"})
_QUIET_ALERT_REASONS = frozenset({"startup"})


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def fault_label(f: str, value: dict[str, Any]) -> str:
    """``kill oms-primary SIGKILL``, ``partition oms-dr->nats down``, ``exchange reject_new_orders``."""
    target = _text(value.get("proxy")) or _text(value.get("target"))
    parts = [f] + ([target] if target and target != f else [])
    detail = next((_text(value.get(key)) for key in _DETAIL_KEYS if _text(value.get(key))), "")
    if detail and detail != f:
        parts.append(detail)
    attributes = value.get("attributes")
    if isinstance(attributes, dict):
        parts.extend(f"{key}={item}" for key, item in list(attributes.items())[:2])
    return " ".join(parts)


def _fault_id(op: Op) -> str | None:
    ident = op.value.get("fault_id")
    return ident if isinstance(ident, str) else None


def fault_windows(ops: Sequence[Op], clock: Clock, end_s: float) -> tuple[FaultWindow, ...]:
    """Every fault the nemesis tried, in the order it tried them: applied (``ok``) or not (``fail``)."""
    heals = {_fault_id(op): clock.s(op.t_ns) for op in ops
             if op.kind == OpKind.FAULT and op.f == "heal" and op.type == OpType.OK}
    windows: list[FaultWindow] = []
    for op in ops:
        if op.kind != OpKind.FAULT or op.f == "heal" or op.type == OpType.INVOKE:
            continue
        applied = op.type == OpType.OK
        tag = f"F{len(windows) + 1}"
        ident = _fault_id(op)
        start_s = clock.s(op.t_ns)
        healed = heals.get(ident) if ident is not None else None
        if op.f in INSTANT_FAULTS or not applied:
            end_s_, heal_s = None, None
        else:
            end_s_, heal_s = (end_s if healed is None else healed), healed
        label = fault_label(op.f, op.value) + ("" if applied else " (failed to apply)")
        windows.append(FaultWindow(
            tag=tag, fault_id=ident, fault=op.f, label=label, start_s=start_s, end_s=end_s_, heal_s=heal_s,
            applied=applied, params={key: item for key, item in op.value.items() if key not in _NOT_PARAMS}))
    return tuple(windows)


def _at(evidence: dict[str, Any], *path: str) -> int | None:
    node: Any = evidence
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, int) and not isinstance(node, bool) else None


_Ends = Callable[[dict[str, Any]], tuple[int | None, int | None]]
MEASURED: dict[str, tuple[str, _Ends]] = {
    "rto.failover": ("RTO", lambda ev: (_at(ev, "fault_t_ns"), _at(ev, "recovered_t_ns"))),
    "db.write_recovery": ("database writes back", lambda ev: (_at(ev, "fault", "t_ns"),
                                                              _at(ev, "first_write_after", "t_ns"))),
    "trading.gap": ("longest trading gap", lambda ev: (_at(ev, "start", "t_ns"), _at(ev, "end", "t_ns"))),
    "deploy.cutover_gap": ("cutover gap", lambda ev: (_at(ev, "last_before", "t_ns"),
                                                      _at(ev, "first_after", "t_ns"))),
    "deploy.rollback_time": ("rollback", lambda ev: (_at(ev, "from", "t_ns"),
                                                     _at(ev, "rollback_done", "t_ns"))),
}
"""The expectations whose evidence is a span over run time: its name and how to read its ends."""


def measured_intervals(expectations: Sequence[ExpectationResult], clock: Clock,
                       end_s: float) -> tuple[Interval, ...]:
    """The spans graded expectations measured; one that never ended (``never``) runs to the end."""
    found = []
    for result in expectations:
        if result.name not in MEASURED:
            continue
        name, ends = MEASURED[result.name]
        start, end = ends(result.evidence)
        if start is None:
            continue
        if end is not None:
            found.append(Interval(name=result.name, label=f"{name} {result.observed_text}",
                                  start_s=clock.s(start), end_s=clock.s(end), verdict=result.verdict))
        elif result.observed_text == "never":
            found.append(Interval(name=result.name, label=f"{name}: never", start_s=clock.s(start),
                                  end_s=end_s, open_ended=True, verdict=result.verdict))
    return tuple(found)


def _fault_lane(faults: Sequence[FaultWindow]) -> Lane:
    items = tuple(LaneItem(label=f"{fault.tag} {fault.label}", start_s=fault.start_s, end_s=fault.end_s,
                           tone="fault" if fault.applied else "fail",
                           detail=f"{fault.fault_id or ''} {fault.params}".strip()) for fault in faults)
    return Lane(key="faults", title="faults", kind=LaneKind.EVENTS, items=items)


def _measured_lane(intervals: Sequence[Interval]) -> Lane:
    items = tuple(LaneItem(label=interval.label, start_s=interval.start_s, end_s=interval.end_s,
                           tone=str(interval.verdict or "neutral")) for interval in intervals)
    return Lane(key="measured", title="measured", kind=LaneKind.EVENTS, items=items)


_ACTION_PARAMS = ("version", "target", "instance", "symbol", "max_order_qty")


def _operator_lane(ops: Sequence[Op], clock: Clock) -> Lane:
    invoked: dict[str, list[Op]] = {}
    items = []
    for op in ops:
        if op.kind != OpKind.ACTION:
            continue
        if op.type == OpType.INVOKE:
            invoked.setdefault(op.f, []).append(op)
            continue
        if not invoked.get(op.f):
            continue
        start = invoked[op.f].pop(0)
        params = [str(start.value[key]) for key in _ACTION_PARAMS if start.value.get(key) is not None]
        label = " ".join([op.f, *params[:2]]) + ("" if op.type == OpType.OK else f" ({op.type.value})")
        end = clock.s(op.t_ns)
        items.append(LaneItem(label=label, start_s=clock.s(start.t_ns),
                              end_s=end if end - clock.s(start.t_ns) >= 0.05 else None,
                              tone="ok" if op.type == OpType.OK else "fail",
                              detail=_text(op.value.get("error"))))
    return Lane(key="operator", title="operator", kind=LaneKind.EVENTS, items=tuple(items))


def _deploy_lane(ops: Sequence[Op]) -> Lane:
    spans = build_timeline(ops).lane(TimelineLane.DEPLOY)
    items = tuple(LaneItem(label=span.label, start_s=span.start_s,
                           end_s=None if span.end_s <= span.start_s else span.end_s,
                           tone=f"phase:{span.label}", detail=span.outcome or "") for span in spans)
    return Lane(key="deploy", title="deploy phases", kind=LaneKind.EVENTS, items=items)


def _deployer_action_label(value: dict[str, Any]) -> str:
    action = value.get("action")
    if not isinstance(action, dict):
        return _text(action) or "?"
    words = [_text(action.get("kind")) or "?", _text(action.get("instance")), _text(action.get("role"))]
    upstreams = action.get("upstreams")
    if isinstance(upstreams, list):
        words.extend(_text(up.get("instance")) for up in upstreams if isinstance(up, dict))
    return " ".join(word for word in words if word)


def _deployer_lane(ops: Sequence[Op], clock: Clock) -> Lane:
    items = tuple(LaneItem(label=_deployer_action_label(op.value), start_s=clock.s(op.t_ns),
                           tone="ok" if op.value.get("ok", True) else "fail",
                           detail=_text(op.value.get("error")))
                  for op in subject_recorded(ops, Subject.DEPLOY_ACTIONS))
    return Lane(key="deployer", title="deployer actions", kind=LaneKind.EVENTS, items=items)


def _routes_label(value: dict[str, Any]) -> str:
    upstreams = value.get("upstreams")
    routed = [up for up in upstreams if isinstance(up, dict)] if isinstance(upstreams, list) else []
    names = " / ".join(f"{_text(up.get('instance'))} {up.get('weight')}%" if len(routed) > 1
                       else _text(up.get("instance")) for up in routed)
    return f"held ({names})" if value.get("held") else (names or "no upstream")


def _front_door_lane(ops: Sequence[Op], clock: Clock, end_s: float) -> Lane:
    routes = [op for op in ops if op.kind == OpKind.SUT and op.process.endswith("frontdoor.routes")]
    items = []
    for n, op in enumerate(routes):
        following = clock.s(routes[n + 1].t_ns) if n + 1 < len(routes) else end_s
        label = _routes_label(op.value)
        items.append(LaneItem(label=label, start_s=max(0.0, clock.s(op.t_ns)), end_s=following,
                              tone="held" if op.value.get("held") else "route"))
    return Lane(key="frontdoor", title="front door routes", kind=LaneKind.STATES, items=tuple(items))


def _failover_lane(ops: Sequence[Op], clock: Clock) -> Lane:
    items = []
    for op in ops:
        if op.kind != OpKind.SUT or op.f != "failover" or op.value.get("heartbeat"):
            continue
        decision = _text(op.value.get("decision"))
        if not decision or decision in _QUIET_DECISIONS:
            continue
        detail = op.value.get("detail")
        reason = _text(detail.get("reason")) if isinstance(detail, dict) else ""
        items.append(LaneItem(label=f"{_text(op.value.get('daemon')) or 'failover'}: {decision}",
                              start_s=clock.s(op.t_ns), tone=f"decision:{decision}", detail=reason))
    return Lane(key="failover", title="failover daemons", kind=LaneKind.EVENTS, items=tuple(items))


def _alert_lane(ops: Sequence[Op], clock: Clock) -> Lane:
    items = []
    for op in ops:
        if op.kind != OpKind.SUT or op.f != "alerts":
            continue
        detail = op.value.get("detail")
        if isinstance(detail, dict) and detail.get("reason") in _QUIET_ALERT_REASONS:
            continue
        alert = _text(op.value.get("alert")) or "alert"
        instance = _text(op.value.get("instance"))
        items.append(LaneItem(label=f"{alert} {instance}".strip(), start_s=clock.s(op.t_ns), tone="alert",
                              detail=str(detail)[:300] if detail else ""))
    return Lane(key="alerts", title="alerts", kind=LaneKind.EVENTS, items=tuple(items))


def event_lanes(ops: Sequence[Op], clock: Clock, end_s: float, faults: Sequence[FaultWindow],
                intervals: Sequence[Interval]) -> tuple[Lane, ...]:
    """The fault lane always; the others when the run recorded anything for them."""
    optional = (_measured_lane(intervals), _operator_lane(ops, clock), _deploy_lane(ops),
                _deployer_lane(ops, clock), _front_door_lane(ops, clock, end_s), _failover_lane(ops, clock),
                _alert_lane(ops, clock))
    return (_fault_lane(faults), *(lane for lane in optional if lane.items))
