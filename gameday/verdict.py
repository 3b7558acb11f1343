"""Verdicts: observations graded against a scenario's expectations.

Three-valued: ``pass``, ``fail``, and ``unknown`` when the evidence is absent or the checker
crashed. A run fails if any expectation fails, else is unknown if any is unknown, else passes.
A run that aborted (the stack did not come up, the run exceeded its budget, ...) or was
interrupted exits with its own code whatever its expectations read: they were graded on a partial
history.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from functools import singledispatch
from typing import Any

from pydantic import BaseModel, ConfigDict

from gameday.checkers import (
    DEFAULT_CHECKERS,
    CheckerRegistry,
    GradingContext,
    Observation,
    ScheduledFault,
    Unit,
    Window,
    WindowKind,
    observe,
)
from gameday.faults.schedule import Occurrence, occurrences
from gameday.history import STOP_F, Op, OpKind, OpType
from gameday.scenario import Bound, EqualsBound, Expectation, MaxBound, MinBound, RangeBound, Scenario
from gameday.starvation import StarvationSummary, summarize_starvation

__all__ = [
    "EXIT_ABORTED",
    "Expectation",
    "ExpectationResult",
    "RunResult",
    "RunStatus",
    "Verdict",
    "admits",
    "describe_bound",
    "exit_code",
    "format_quantity",
    "grade",
    "grade_expectation",
    "grade_run",
    "grading_context",
    "interrupted_run",
    "overall_verdict",
]

_EQUALS_TOLERANCE = 1e-9


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"


class RunStatus(StrEnum):
    COMPLETED = "completed"
    ABORTED = "aborted"  # the harness gave up: the stack failed, the run exceeded its budget, ...
    INTERRUPTED = "interrupted"  # Ctrl-C or SIGTERM stopped the run

    @property
    def stopped_early(self) -> bool:
        return self is not RunStatus.COMPLETED


_EXIT_CODES = {Verdict.PASS: 0, Verdict.FAIL: 1, Verdict.UNKNOWN: 3}
EXIT_ABORTED = 4


def exit_code(verdict: Verdict, run_status: RunStatus | None = None) -> int:
    """0 pass, 1 fail, 3 unknown (nothing failed, but something could not be graded), 4 the run aborted
    or was interrupted (the live command exits 130 on an interruption; re-grading it exits 4)."""
    if run_status is not None and run_status.stopped_early:
        return EXIT_ABORTED
    return _EXIT_CODES[verdict]


@singledispatch
def admits(bound: object, value: float) -> bool:
    """Whether ``value`` (``math.inf`` for a quantity that never completed) meets ``bound``."""
    raise TypeError(f"no grading rule for bound {bound!r}")


@admits.register
def _admits_max(bound: MaxBound, value: float) -> bool:
    return value <= bound.max


@admits.register
def _admits_min(bound: MinBound, value: float) -> bool:
    return value >= bound.min


@admits.register
def _admits_equals(bound: EqualsBound, value: float) -> bool:
    return math.isclose(value, bound.equals, rel_tol=0, abs_tol=_EQUALS_TOLERANCE)


@admits.register
def _admits_range(bound: RangeBound, value: float) -> bool:
    return bound.min <= value <= bound.max


def format_quantity(value: float | None, unit: Unit) -> str:
    if value is None:
        return "-"
    if unit is Unit.SECONDS:
        return f"{round(value, 3):g}s"
    if unit is Unit.BPS:
        return f"{round(value, 4):g} bps"
    if unit is Unit.MILLISECONDS:
        return f"{round(value, 1):g} ms"
    if unit is Unit.RATIO:
        return f"{round(value, 4):g}"
    return f"{value:g}"


@singledispatch
def describe_bound(bound: object, unit: Unit) -> str:
    raise TypeError(f"no description for bound {bound!r}")


@describe_bound.register
def _describe_max(bound: MaxBound, unit: Unit) -> str:
    return f"max {format_quantity(bound.max, unit)}"


@describe_bound.register
def _describe_min(bound: MinBound, unit: Unit) -> str:
    return f"min {format_quantity(bound.min, unit)}"


@describe_bound.register
def _describe_equals(bound: EqualsBound, unit: Unit) -> str:
    return f"equals {format_quantity(bound.equals, unit)}"


@describe_bound.register
def _describe_range(bound: RangeBound, unit: Unit) -> str:
    return f"between {format_quantity(bound.min, unit)} and {format_quantity(bound.max, unit)}"


def grade(bound: Bound, observation: Observation) -> Verdict:
    if observation.error is not None:
        return Verdict.UNKNOWN
    if observation.violated:
        return Verdict.FAIL
    if observation.value is None:
        if not observation.unbounded:
            return Verdict.UNKNOWN
        return Verdict.PASS if admits(bound, math.inf) else Verdict.FAIL
    return Verdict.PASS if admits(bound, float(observation.value)) else Verdict.FAIL


def overall_verdict(verdicts: Iterable[Verdict]) -> Verdict:
    seen = set(verdicts)
    if Verdict.FAIL in seen:
        return Verdict.FAIL
    if Verdict.UNKNOWN in seen:
        return Verdict.UNKNOWN
    return Verdict.PASS


class ExpectationResult(BaseModel):
    """One graded expectation, everything a report shows about it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    bound: Bound
    bound_text: str
    observed: float | int | None
    observed_text: str
    unit: Unit
    verdict: Verdict
    evidence: dict[str, Any] = {}
    note: str = ""
    error: str | None = None
    graded_in_s: float | None = None  # how long the checker took (a JUnit testcase's time)


class RunResult(BaseModel):
    """The graded run: what results.json holds and every report renders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str | None
    scenario: str
    seed: int
    defects: tuple[str, ...] = ()
    started_wall: str | None = None
    ended_wall: str | None = None
    run_status: RunStatus | None = None
    abort_reason: str | None = None
    stopped_by: str | None = None  # the stop line (stop_when) whose crossing aborted the run, if one did
    verdict: Verdict
    expectations: tuple[ExpectationResult, ...]
    starvation: StarvationSummary | None = None  # informs only: never part of the verdict

    @property
    def exit_code(self) -> int:
        return exit_code(self.verdict, self.run_status)

    @property
    def duration_s(self) -> float | None:
        """Wall seconds from the run's start to its end, when both were recorded."""
        if self.started_wall is None or self.ended_wall is None:
            return None
        try:
            elapsed = datetime.fromisoformat(self.ended_wall) - datetime.fromisoformat(self.started_wall)
        except ValueError:
            return None
        return max(elapsed.total_seconds(), 0.0)

    @property
    def counts(self) -> dict[Verdict, int]:
        """How many expectations ended with each verdict."""
        verdicts = [case.verdict for case in self.expectations]
        return {verdict: verdicts.count(verdict) for verdict in Verdict}


def grading_context(scenario: Scenario, expectation: Expectation | None = None) -> GradingContext:
    """The scenario's timeline under the ids the history records, and one expectation's options."""
    found = occurrences(scenario.timeline)
    faults = tuple(ScheduledFault(occurrence.fault_id, occurrence.fault.fault.value, occurrence.fault.at.ns,
                                  occurrence.name) for occurrence in found)
    if expectation is None:
        return GradingContext(faults=faults)
    anchor = next((occurrence.fault_id for occurrence in found if expectation.from_ is not None
                   and occurrence.answers_to(expectation.from_)), None)
    series, rule = expectation.series, scenario.alert_rule(expectation.alert)
    return GradingContext(faults=faults, anchor=anchor,
                          hold_ns=None if expectation.hold is None else expectation.hold.ns,
                          window=_window(expectation, found), metric=None if series is None else series.query,
                          alert=None if rule is None else rule.rule)


def _window(expectation: Expectation, found: Sequence[Occurrence]) -> Window | None:
    kind, name = (WindowKind.DURING, expectation.during) if expectation.during is not None else \
        (WindowKind.AFTER, expectation.after)
    if name is None:
        return None
    fault_id = next((occurrence.fault_id for occurrence in found if occurrence.answers_to(name)), name)
    return Window(kind, fault_id, name, 0 if expectation.grace is None else expectation.grace.ns)


def grade_expectation(expectation: Expectation, ops: Sequence[Op],
                      checkers: CheckerRegistry = DEFAULT_CHECKERS,
                      context: GradingContext | None = None) -> ExpectationResult:
    checker = checkers.get(expectation.checker)
    if checker is None:
        observation = Observation(value=None, unit=Unit.COUNT, note="not graded",
                                  error=f"no checker named {expectation.checker!r}")
    else:
        observation = observe(checker, ops, context)
    verdict = grade(expectation.bound, observation)
    observed_text = format_quantity(observation.value, observation.unit)
    if observation.value is None and observation.unbounded:
        observed_text = "never"
    elif observation.violated:
        observed_text = "none"
    return ExpectationResult(
        name=expectation.name,
        bound=expectation.bound,
        bound_text=describe_bound(expectation.bound, observation.unit),
        observed=observation.value,
        observed_text=observed_text,
        unit=observation.unit,
        verdict=verdict,
        evidence=observation.evidence,
        note=observation.note,
        error=observation.error,
    )


def _first_run_op(ops: Sequence[Op], f: str) -> Op | None:
    return next((op for op in ops if op.kind == OpKind.RUN and op.f == f and op.type == OpType.INFO), None)


def _defects(start: Op | None, scenario: Scenario) -> tuple[str, ...]:
    """The defects the run actually had (the runner may add some on the command line)."""
    recorded = None if start is None else start.value.get("defects")
    if not isinstance(recorded, list):
        return scenario.stack.defects
    try:
        return tuple(str(defect) for defect in recorded)
    except ValueError:
        return scenario.stack.defects


def _abort_reason(end: Op | None, status: RunStatus | None) -> str | None:
    if status is None or not status.stopped_early or end is None:
        return None
    error = end.value.get("error")
    return str(error) if error else f"the run {status.value} (no reason recorded)"


def _stopped_by(ops: Sequence[Op]) -> str | None:
    stop = _first_run_op(ops, STOP_F)
    return None if stop is None else str(stop.value.get("condition", "a stop line"))


def _run_status(end: Op | None) -> RunStatus | None:
    status = None if end is None else end.value.get("status")
    try:
        return RunStatus(status) if isinstance(status, str) else None
    except ValueError:
        return None


def _timed_grade(expectation: Expectation, ops: Sequence[Op], checkers: CheckerRegistry,
                 scenario: Scenario) -> ExpectationResult:
    started = time.perf_counter()
    result = grade_expectation(expectation, ops, checkers, grading_context(scenario, expectation))
    return result.model_copy(update={"graded_in_s": time.perf_counter() - started})


def _ungraded(scenario: Scenario, ops: Sequence[Op]) -> RunResult:
    """What the history says about the run itself (id, seed, defects, start, end, status), no grades."""
    start, end = _first_run_op(ops, "start"), _first_run_op(ops, "end")
    run_id = None if start is None else start.value.get("run_id")
    seed = start.value.get("seed") if start is not None else None
    status = _run_status(end)
    return RunResult(
        run_id=str(run_id) if run_id is not None else None,
        scenario=scenario.name,
        seed=seed if isinstance(seed, int) else scenario.seed,
        defects=_defects(start, scenario),
        # a stack that never came up records no start: the run began with its first op
        started_wall=start.wall if start is not None else (ops[0].wall if ops else None),
        ended_wall=None if end is None else end.wall,
        run_status=status,
        abort_reason=_abort_reason(end, status),
        stopped_by=_stopped_by(ops),
        verdict=Verdict.UNKNOWN,
        expectations=(),
        starvation=summarize_starvation(ops),
    )


def grade_run(scenario: Scenario, ops: Sequence[Op],
              checkers: CheckerRegistry = DEFAULT_CHECKERS) -> RunResult:
    """Grade every expectation of ``scenario`` against a history; never raises for bad evidence."""
    results = tuple(_timed_grade(expectation, ops, checkers, scenario)
                    for expectation in scenario.expectations)
    return _ungraded(scenario, ops).model_copy(update={
        "verdict": overall_verdict(result.verdict for result in results), "expectations": results})


def interrupted_run(scenario: Scenario, ops: Sequence[Op], *, run_id: str | None = None) -> RunResult:
    """An interrupted run as it stands, graded against nothing (``gameday analyze`` grades it later).

    ``run_id`` names the run when its history does not yet (the start is recorded once the stack is up).
    """
    result = _ungraded(scenario, ops)
    update: dict[str, object] = {"run_id": result.run_id or run_id}
    if result.run_status is not RunStatus.INTERRUPTED:
        update.update(run_status=RunStatus.INTERRUPTED, abort_reason="interrupted")
    return result.model_copy(update=update)
