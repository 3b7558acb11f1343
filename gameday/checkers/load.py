"""``load.failure_ratio`` and ``load.p99_ms``: what locust's users saw (a scenario's ``load:``).

Both read the load's per-second statistics (``load`` ops ``stats``, :mod:`gameday.load.stats`),
over the whole load or over a window an expectation names:

- ``during: <fault id>``: from the fault's start (its applied op) to its heal (to the end of the
  load when the run heals it only at its end, as it does a kill);
- ``after: <fault id>``: from the fault's heal on (from its start when the run heals it only at
  its end: a kill has no heal of its own);
- ``grace: <duration>`` opens either window that much later (e.g. the failover's budget).

A second belongs to a window when its midpoint falls inside it. A window with no request in it, a
fault that was never applied, or a run with no load at all reads ``unknown``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gameday.checker_specs import LOAD_FAILURE_RATIO, LOAD_P99_MS
from gameday.checkers.base import GradingContext, Observation, Specified, Window, WindowKind
from gameday.checkers.records import Reference, reference
from gameday.history import RUN_PHASE_F, Op, OpKind, OpType, RunPhase
from gameday.load.stats import LOAD_PROCESS, STATS_F, merged, percentile

__all__ = ["FOREVER", "LoadFailureRatio", "LoadP99", "LoadSecond", "Span", "fault_op", "load_seconds",
           "span_of"]

MAX_LISTED_ERRORS = 5
FOREVER = 2**63


@dataclass(frozen=True)
class LoadSecond:
    """One second of load statistics, covering ``(from_ns, t_ns]``."""

    from_ns: int
    t_ns: int
    requests: int
    failures: int
    histogram: dict[int, int]
    errors: dict[str, int]

    @property
    def mid_ns(self) -> int:
        return (self.from_ns + self.t_ns) // 2


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _second(op: Op) -> LoadSecond | None:
    value = op.value
    from_ns = value.get("from_ns")
    if not isinstance(from_ns, int) or from_ns > op.t_ns:
        return None
    histogram = value.get("histogram")
    errors = value.get("errors")
    return LoadSecond(
        from_ns=from_ns, t_ns=op.t_ns, requests=_count(value.get("requests")),
        failures=_count(value.get("failures")),
        histogram={int(ms): _count(n) for ms, n in histogram.items() if str(ms).isdigit()}
        if isinstance(histogram, dict) else {},
        errors={str(error): _count(n) for error, n in errors.items()} if isinstance(errors, dict) else {},
    )


def load_seconds(ops: Sequence[Op]) -> list[LoadSecond]:
    """Every second of load statistics in the history, in time order."""
    found = (_second(op) for op in ops if op.kind == OpKind.LOAD and op.process == LOAD_PROCESS
             and op.f == STATS_F and op.type == OpType.OK)
    return sorted((second for second in found if second is not None), key=lambda second: second.t_ns)


@dataclass(frozen=True)
class Span:
    start_ns: int
    end_ns: int
    label: str


def _final_heal_ns(ops: Sequence[Op]) -> int:
    """When the runner began healing everything (a fault healed from then on was healed by the run's
    end, not by its own ``for``)."""
    return next((op.t_ns for op in ops if op.kind == OpKind.RUN and op.f == RUN_PHASE_F
                 and op.value.get("phase") == RunPhase.HEAL), FOREVER)


def fault_op(ops: Sequence[Op], fault_id: str, *, heal: bool) -> Op | None:
    return next((op for op in ops if op.kind == OpKind.FAULT and op.type == OpType.OK
                 and op.value.get("fault_id") == fault_id and (op.f == "heal") == heal), None)


def span_of(ops: Sequence[Op], window: Window | None, whole: str = "the whole load") -> Span | str:
    """The window an expectation names, or why there is none."""
    if window is None:
        return Span(-FOREVER, FOREVER, whole)
    started = fault_op(ops, window.fault_id, heal=False)
    if started is None:
        return f"the fault {window.name} was not applied"
    healed = fault_op(ops, window.fault_id, heal=True)
    heal_ns = healed.t_ns if healed is not None and healed.t_ns < _final_heal_ns(ops) else None
    grace = f" + {window.grace_ns / 1e9:g}s" if window.grace_ns else ""
    if window.kind is WindowKind.DURING:
        end_ns = FOREVER if heal_ns is None else heal_ns
        until = "the end of the load" if heal_ns is None else "its heal"
        return Span(started.t_ns + window.grace_ns, end_ns, f"during {window.name}: start{grace} to {until}")
    if heal_ns is None:
        return Span(started.t_ns + window.grace_ns, FOREVER,
                     f"after {window.name}: from its start{grace}, as it is never healed")
    return Span(heal_ns + window.grace_ns, FOREVER, f"after {window.name}: from its heal{grace}")


def _in(seconds: Sequence[LoadSecond], span: Span) -> list[LoadSecond]:
    return [second for second in seconds if span.start_ns <= second.mid_ns < span.end_ns]


class _LoadChecker(Specified):

    def check(self, ops: Sequence[Op]) -> Observation:
        return self.check_in(ops, GradingContext())

    def check_in(self, ops: Sequence[Op], context: GradingContext) -> Observation:
        seconds = load_seconds(ops)
        if not seconds:
            return Observation.absent(self.unit, "no load statistics: the scenario has no load, or locust "
                                                 "recorded no second")
        span = span_of(ops, context.window)
        if isinstance(span, str):
            return Observation.absent(self.unit, span)
        ref = reference(ops)
        inside = _in(seconds, span)
        requests = sum(second.requests for second in inside)
        evidence: dict[str, Any] = {
            "window": span.label, "reference": ref.describe(),
            "from": ref.instant(span.start_ns) if span.start_ns > -FOREVER else None,
            "to": ref.instant(span.end_ns) if span.end_ns < FOREVER else None,
            "seconds": len(inside), "requests": requests,
            "failures": sum(second.failures for second in inside),
        }
        if requests == 0:
            return Observation.absent(self.unit, f"no request in the window ({span.label})", **evidence)
        return self.observe(inside, evidence, span, ref)

    def observe(self, inside: Sequence[LoadSecond], evidence: dict[str, Any], span: Span,
                ref: Reference) -> Observation:
        raise NotImplementedError


def _top_errors(inside: Sequence[LoadSecond]) -> dict[str, int]:
    errors: Counter[str] = Counter()
    for second in inside:
        errors.update(second.errors)
    return dict(errors.most_common(MAX_LISTED_ERRORS))


class LoadFailureRatio(_LoadChecker):
    spec = LOAD_FAILURE_RATIO
    description = "failed locust requests over all locust requests (0..1), in the window"

    def observe(self, inside: Sequence[LoadSecond], evidence: dict[str, Any], span: Span,
                ref: Reference) -> Observation:
        requests, failures = evidence["requests"], evidence["failures"]
        worst = max(inside, key=lambda second: (second.failures / max(second.requests, 1), second.failures))
        return Observation(
            value=round(failures / requests, 4), unit=self.unit,
            evidence={**evidence, "top_errors": _top_errors(inside),
                      "worst_second": {"ends": ref.instant(worst.t_ns),
                                       "requests": worst.requests, "failures": worst.failures}},
            note=f"{failures} of {requests} locust requests failed ({span.label})")


class LoadP99(_LoadChecker):
    spec = LOAD_P99_MS
    description = "99th percentile of locust's response times (ms), failures included, in the window"

    def observe(self, inside: Sequence[LoadSecond], evidence: dict[str, Any], span: Span,
                ref: Reference) -> Observation:
        histogram = merged(second.histogram for second in inside)
        p99 = percentile(histogram, 0.99)
        if p99 is None:
            return Observation.absent(self.unit, f"no response time in the window ({span.label})", **evidence)
        return Observation(
            value=p99, unit=self.unit,
            evidence={**evidence, "p50_ms": percentile(histogram, 0.50),
                      "p95_ms": percentile(histogram, 0.95), "max_ms": max(histogram)},
            note=f"p99 {p99:g} ms over {evidence['requests']} locust requests ({span.label})")
