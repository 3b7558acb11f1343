"""The detection matrix: every scenario against the correct stack and against its known defect.

A row reads as expected when the correct stack passes every expectation and the defective one
fails at least the expectations the scenario names in ``known_defect.fails`` (the right reason).
A defect's run that a stop line aborted (``stop_when``: an abort on purpose) is graded as any other.
Runs are repeated so a verdict that depends on lucky timing shows up as an unstable row.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from gameday.scenario import Scenario
from gameday.starvation import LoadAverage, StarvationSummary
from gameday.verdict import RunResult, Verdict

__all__ = ["MATRIX_FILE", "Matrix", "MatrixRow", "RunSummary", "Variant", "plan_lines", "planned_runs",
           "run_matrix", "run_result_line", "run_started_line", "write_matrix"]

MATRIX_FILE = "matrix.json"


class Variant(StrEnum):
    CORRECT = "correct"
    DEFECT = "defect"


class RunSummary(BaseModel):
    """One run of one variant, reduced to what the matrix shows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: Verdict
    failing: tuple[str, ...]
    unknown: tuple[str, ...]
    observed: dict[str, float | int | None]
    run_dir: str | None
    error: str | None = None
    as_expected: bool
    starvation: StarvationSummary | None = None  # informs only: never part of ``as_expected``
    started: str | None = None  # the run's start (ISO 8601 wall time)
    duration_s: float | None = None  # the run's wall time, start to end

    @property
    def starved(self) -> bool:
        return self.starvation is not None and self.starvation.starved


class MatrixRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str
    path: str
    defects: tuple[str, ...]
    must_fail: tuple[str, ...]
    correct: tuple[RunSummary, ...]
    defect: tuple[RunSummary, ...]
    defect_not_run: bool = False
    """The defect variant was not run (a stack reached through a target file runs as it is): the
    row then proves only that the stack passes, not that the scenario can fail."""

    @property
    def as_expected(self) -> bool:
        runs = (*self.correct, *self.defect)
        proven = bool(self.defect) or self.defect_not_run
        return proven and bool(self.correct) and all(run.as_expected for run in runs)


class Matrix(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    generated: str
    repeats: int
    rows: tuple[MatrixRow, ...]
    scenarios_planned: int
    stress: int = 0
    """CPU-burning processes that ran beside the matrix (``--stress``)."""
    load_average: LoadAverage | None = None
    """The machine's 1-minute load average over the matrix so far."""

    @property
    def starved_runs(self) -> int:
        return sum(run.starved for row in self.rows for run in (*row.correct, *row.defect))

    @property
    def complete(self) -> bool:
        """Every planned scenario has its row (false while running, or after an interruption)."""
        return len(self.rows) == self.scenarios_planned

    @property
    def as_expected(self) -> bool:
        return self.complete and bool(self.rows) and all(row.as_expected for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        body = self.model_dump(mode="json")
        for row, dumped in zip(self.rows, body["rows"], strict=True):
            dumped["as_expected"] = row.as_expected
        body["complete"] = self.complete
        body["as_expected"] = self.as_expected
        body["starved_runs"] = self.starved_runs
        return body


@dataclass(frozen=True)
class RunRequest:
    scenario: Scenario
    path: Path
    variant: Variant
    defects: tuple[str, ...]
    repeat: int


Rows = Sequence[tuple[Path, Scenario]]


def planned_runs(scenarios: Rows, repeats: int, with_defects: bool = True) -> int:
    """Each row runs the correct stack, and the defective one when it has a known defect."""
    return repeats * sum(1 + (with_defects and scenario.known_defect is not None)
                         for _, scenario in scenarios)


def plan_lines(scenarios: Rows, repeats: int, with_defects: bool = True) -> list[str]:
    """The matrix's plan: rows x variants x repeats = runs, then each row's variants."""
    with_defect = sum(scenario.known_defect is not None for _, scenario in scenarios) if with_defects else 0
    runs = planned_runs(scenarios, repeats, with_defects)
    variants = ("1 variant (correct: a target file's stack runs as it is)" if not with_defects
                else "2 variants (correct, defect)" if with_defect == len(scenarios) else "up to 2 variants")
    lines = [f"plan: {len(scenarios)} row(s) x {variants} x {repeats} repeat(s) = {runs} run(s)"]
    for number, (path, scenario) in enumerate(scenarios, 1):
        known = scenario.known_defect if with_defects else None
        defect = (f", defect ({', '.join(known.defects)}) must fail {', '.join(known.fails) or 'something'}"
                  if known else ", no known defect" if with_defects else "")
        lines.append(f"  row {number}: {scenario.name} ({path}): correct{defect}")
    return lines


def run_started_line(request: RunRequest, number: int, total: int) -> str:
    defects = f" with {', '.join(request.defects)}" if request.defects else ""
    return (f"run {number}/{total} started: {request.scenario.name} {request.variant.value} "
            f"#{request.repeat + 1}{defects}")


def run_result_line(request: RunRequest, summary: RunSummary, number: int, total: int) -> str:
    failing = f" (failing: {', '.join(summary.failing)})" if summary.failing else ""
    aborted = f", aborted: {summary.error}" if summary.error else ""
    starved = " (starved)" if summary.starved else ""
    reads = "as expected" if summary.as_expected else "NOT as expected"
    return (f"run {number}/{total} {summary.verdict.value}{failing}{aborted} - {reads}{starved}: "
            f"{request.scenario.name} {request.variant.value} #{request.repeat + 1} in {summary.run_dir}")


RunOne = Callable[[RunRequest], Awaitable[tuple[RunResult, str | None, str | None]]]
"""Runs one request; returns the result, its run directory and an error (an aborted run)."""


def summarize(result: RunResult, variant: Variant, must_fail: Sequence[str], run_dir: str | None,
              error: str | None) -> RunSummary:
    failing = tuple(e.name for e in result.expectations if e.verdict is Verdict.FAIL)
    unknown = tuple(e.name for e in result.expectations if e.verdict is Verdict.UNKNOWN)
    if variant is Variant.CORRECT:
        as_expected = result.verdict is Verdict.PASS and error is None
    else:  # a stop line the defect crossed aborts the run on purpose: its grades still count
        graded = error is None or result.stopped_by is not None
        as_expected = graded and bool(must_fail) and set(must_fail) <= set(failing)
    return RunSummary(verdict=result.verdict, failing=failing, unknown=unknown,
                      observed={e.name: e.observed for e in result.expectations},
                      run_dir=run_dir, error=error, as_expected=as_expected, starvation=result.starvation,
                      started=result.started_wall, duration_s=result.duration_s)


async def run_matrix(scenarios: Sequence[tuple[Path, Scenario]], run_one: RunOne, repeats: int = 1,
                     on_run: Callable[[RunRequest, RunSummary], None] = lambda request, summary: None,
                     on_row: Callable[[Matrix], object] = lambda matrix_so_far: None,
                     *, stress: int = 0, load: Callable[[], LoadAverage | None] = lambda: None,
                     progress: Callable[[str], None] = lambda line: None,
                     with_defects: bool = True) -> Matrix:
    """Each scenario's row in turn; ``on_row`` gets the matrix so far after each row.

    ``stress`` and ``load`` (the load average so far) are recorded in the matrix; the caller runs
    the burners and the meter around this call (:mod:`gameday.stress`, :mod:`gameday.starvation`).
    ``with_defects`` false runs the correct variant only (a target file's stack runs as it is).
    ``progress`` gets the plan, then each run's start and its result with its run directory
    (plain text: print it with console markup off).
    """
    for line in plan_lines(scenarios, repeats, with_defects):
        progress(line)
    total, number = planned_runs(scenarios, repeats, with_defects), 0
    rows: list[MatrixRow] = []
    started = datetime.now(UTC).isoformat(timespec="seconds")
    for path, scenario in scenarios:
        known = scenario.known_defect if with_defects else None
        must_fail = known.fails if known else ()
        defects = known.defects if known else ()
        runs: dict[Variant, list[RunSummary]] = {Variant.CORRECT: [], Variant.DEFECT: []}
        for repeat in range(repeats):
            variants = [(Variant.CORRECT, ())] + ([(Variant.DEFECT, defects)] if known else [])
            for variant, variant_defects in variants:
                request = RunRequest(scenario, path, variant, tuple(variant_defects), repeat)
                number += 1
                progress(run_started_line(request, number, total))
                result, run_dir, error = await run_one(request)
                summary = summarize(result, variant, must_fail, run_dir, error)
                runs[variant].append(summary)
                on_run(request, summary)
                progress(run_result_line(request, summary, number, total))
        rows.append(MatrixRow(scenario=scenario.name, path=str(path), defects=defects, must_fail=must_fail,
                              correct=tuple(runs[Variant.CORRECT]), defect=tuple(runs[Variant.DEFECT]),
                              defect_not_run=not with_defects))
        on_row(Matrix(generated=started, repeats=repeats, rows=tuple(rows), scenarios_planned=len(scenarios),
                      stress=stress, load_average=load()))
    return Matrix(generated=datetime.now(UTC).isoformat(timespec="seconds"), repeats=repeats,
                  rows=tuple(rows), scenarios_planned=len(scenarios), stress=stress, load_average=load())


def write_matrix(matrix: Matrix, reports_root: Path) -> Path:
    reports_root.mkdir(parents=True, exist_ok=True)
    path = reports_root / MATRIX_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(matrix.to_json(), indent=1) + "\n", encoding="utf-8")
    partial.replace(path)
    return path
