"""``gameday analyze``: re-grade stored runs from their history alone; starts nothing.

Without a scenario file a run is re-graded with the scenario it ran, its reports rewritten in
place. With ``--scenario FILE`` (new bounds, another expectation) the history is graded against
FILE's expectations into a directory of its own, and the run's own results stay as they were::

    <run_dir>/regraded/<FILE's stem>-<UTC time>/
        scenario.yaml   FILE, as graded
        results.json, junit.xml, summary.md, report.html, report-data.json
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from gameday.errors import GamedayError
from gameday.history import read_history
from gameday.report.console import console_report
from gameday.report.files import write_reports
from gameday.report.pages import write_readable_reports
from gameday.runner import HISTORY_FILE, SCENARIO_FILE, analyze_run
from gameday.scenario import Scenario, load_scenario
from gameday.verdict import RunResult, grade_run

__all__ = ["REGRADED_DIR", "Regraded", "ScenarioFile", "analyze_runs", "regrade_run", "regraded_directory"]

REGRADED_DIR = "regraded"
EXIT_INVALID = 2  # bad input, as everywhere in the command line


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario loaded from ``path`` (the file is copied beside the results it graded)."""

    path: Path
    scenario: Scenario


@dataclass(frozen=True)
class Regraded:
    result: RunResult
    directory: Path
    readable_error: str | None = None  # why summary.md / report.html were not written


def regraded_directory(run_dir: Path, scenario_path: Path, now: datetime) -> Path:
    """A directory under ``<run_dir>/regraded/`` no earlier re-grade has used."""
    base = run_dir / REGRADED_DIR / f"{scenario_path.stem}-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate


def regrade_run(run_dir: Path, scenario_file: ScenarioFile, *, now: datetime | None = None) -> Regraded:
    """Grade ``run_dir``'s history against another scenario's expectations, into a new directory."""
    ops = read_history(run_dir / HISTORY_FILE)
    result = grade_run(scenario_file.scenario, ops)
    directory = regraded_directory(run_dir, scenario_file.path, now or datetime.now(UTC))
    directory.mkdir(parents=True)
    shutil.copyfile(scenario_file.path, directory / SCENARIO_FILE)
    write_reports(result, directory)
    try:
        write_readable_reports(result, ops, directory)
    except Exception as failure:  # the graded results are written: a page that fails costs only itself
        return Regraded(result, directory, readable_error=f"{type(failure).__name__}: {failure}")
    return Regraded(result, directory)


def _differences(run_dir: Path, scenario: Scenario) -> list[str]:
    """What makes the run's history a poor fit for ``scenario`` (warned about, never refused)."""
    try:
        ran = load_scenario(run_dir / SCENARIO_FILE, check_files=False)
    except (GamedayError, OSError):  # a run without its scenario is still graded: nothing to compare
        return []
    notes = []
    if ran.name != scenario.name:
        notes.append(f"the run was of scenario {ran.name!r}, the file is {scenario.name!r}")
    if ran.timeline != scenario.timeline:
        notes.append("the file's timeline differs from the run's: an expectation measured from a fault "
                     "may not find it")
    return notes


def _worst(codes: Sequence[int]) -> int:
    """Of several runs, a failure outranks an aborted run, which outranks an unknown one."""
    return max(codes, key=lambda code: (code == 1, code), default=0)


def _print_result(console: Console, result: RunResult) -> None:
    if result.abort_reason:
        console.print(f"[bold red]run {result.run_status}:[/] {escape(result.abort_reason)}", highlight=False)
    console.print(console_report(result))


def _regrade_one(run_dir: Path, console: Console, scenario_file: ScenarioFile) -> RunResult:
    for note in _differences(run_dir, scenario_file.scenario):
        console.print(f"[yellow]warning:[/] {escape(str(run_dir))}: {escape(note)}", highlight=False)
    regraded = regrade_run(run_dir, scenario_file)
    _print_result(console, regraded.result)
    console.print(f"  re-graded with {escape(str(scenario_file.path))} into "
                  f"{escape(str(regraded.directory))} (results.json, junit.xml, summary.md, report.html); "
                  "the run's own results are unchanged", highlight=False)
    if regraded.readable_error:
        console.print(f"  report.html not written: {escape(regraded.readable_error)}", highlight=False)
    return regraded.result


def analyze_runs(run_dirs: Sequence[Path], console: Console,
                 scenario_file: ScenarioFile | None = None) -> int:
    """Re-grade each run (in place, or with ``scenario_file`` into its own directory); the worst exit
    code. A directory without a history is bad input: nothing is graded."""
    missing = [run_dir for run_dir in run_dirs if not (run_dir / HISTORY_FILE).is_file()]
    for run_dir in missing:
        console.print(f"[bold red]not a run directory[/] {escape(str(run_dir))}: no {HISTORY_FILE}",
                      highlight=False)
    if missing:
        return EXIT_INVALID
    codes = []
    for run_dir in run_dirs:
        if scenario_file is None:
            result = analyze_run(run_dir)
            _print_result(console, result)
        else:
            result = _regrade_one(run_dir, console, scenario_file)
        codes.append(result.exit_code)
    return _worst(codes)
