"""gameday as a pytest plugin (entry point ``pytest11``).

``pytest scenarios/`` collects each scenario file named on the command line (or directly in a
directory named there) as a test: one item per expectation, all graded from one run of the scenario, plus an
item for the run itself (an aborted run errors there). Scenario files are collected only from paths
given on the command line, never from ``testpaths``, so a project's YAML fixtures stay fixtures.

Options: ``--gameday-defect NAME`` (repeatable), ``--gameday-target NAME`` (an installed target),
``--gameday-reports DIR`` (default: pytest's temporary directory). The run's report directory is in
each item's output (``gameday report``) and in the JUnit properties.

An expectation graded ``unknown`` fails its item: a check that could not be made is not a pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.errors import GamedayError

__all__ = ["ScenarioFile"]

_SCENARIO_KEYS = ("expect:", "workload:")
_SNIFF_BYTES = 65536


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gameday", "game days as tests")
    group.addoption("--gameday-defect", action="append", default=[], metavar="NAME",
                    help="switch on a known defect of the target for every scenario (repeatable)")
    group.addoption("--gameday-target", default=None, metavar="NAME",
                    help="the installed target whose stack each scenario starts (default: reference)")
    group.addoption("--gameday-reports", default=None, metavar="DIR",
                    help="where runs are written (default: pytest's temporary directory)")


def _named_on_command_line(config: pytest.Config, path: Path) -> bool:
    """The file, or the directory holding it, is a path given on the command line (``pytest
    scenarios/``); a test tree given as a whole (``pytest tests/``) keeps its YAML fixtures."""
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return False
    given = {Path(arg.split("::")[0]).resolve() for arg in config.args}
    return path in given or path.parent in given


def _looks_like_a_scenario(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            head = file.read(_SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return False
    lines = [line.rstrip() for line in head.splitlines()]
    return all(any(line.startswith(key) for line in lines) for key in _SCENARIO_KEYS)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    path = file_path.resolve()
    if not _named_on_command_line(parent.config, path) or not _looks_like_a_scenario(path):
        return None
    collected: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
    return collected


class ScenarioFile(pytest.File):
    """One scenario: its run, and one item per expectation graded from that run."""

    _outcome: Any = None
    _failure: BaseException | None = None

    def collect(self) -> Iterator[pytest.Item]:
        from gameday.scenario import load_scenario

        try:
            scenario = load_scenario(self.path)
        except GamedayError as error:
            raise self.CollectError(str(error)) from None
        yield GamedayRunItem.from_parent(self, name="run")
        for expectation in scenario.expectations:
            yield ExpectationItem.from_parent(self, name=expectation.name)

    def run_once(self) -> Any:
        """The scenario's run, started by whichever of its items runs first."""
        if self._outcome is None and self._failure is None:
            try:
                self._outcome = _run(self.path, self.config)
            except Exception as error:  # reported on every item of this file, not raised into pytest
                self._failure = error
        if self._failure is not None:
            raise RuntimeError(f"the game day could not run: {self._failure}") from self._failure
        return self._outcome

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, self.CollectError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


def _run(path: Path, config: pytest.Config) -> Any:
    from gameday.runner import RunSettings, run_scenario
    from gameday.scenario import load_scenario
    from gameday.target import DEFAULT_TARGET

    reports = config.getoption("gameday_reports")
    root = Path(reports) if reports else config._tmp_path_factory.mktemp("gameday")  # type: ignore[attr-defined]
    settings = RunSettings(reports_root=root.resolve(),
                           extra_defects=tuple(config.getoption("gameday_defect")),
                           target=config.getoption("gameday_target") or DEFAULT_TARGET)
    return asyncio.run(run_scenario(load_scenario(path), path, settings))


class _GamedayItem(pytest.Item):
    def _outcome(self) -> Any:
        parent = self.parent
        assert isinstance(parent, ScenarioFile)
        outcome = parent.run_once()
        self.user_properties.append(("gameday_run_dir", str(outcome.run_dir)))
        self.add_report_section("call", "gameday report", f"{outcome.run_dir}")
        return outcome

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name}::{self.name}"


class GamedayRunItem(_GamedayItem):
    """The run itself: it completed (an aborted run fails here with its reason)."""

    def runtest(self) -> None:
        outcome = self._outcome()
        if outcome.error is not None:
            pytest.fail(f"the run aborted: {outcome.error}", pytrace=False)


class ExpectationItem(_GamedayItem):
    """One expectation of the scenario, graded from the shared run."""

    def runtest(self) -> None:
        from gameday.verdict import Verdict

        outcome = self._outcome()
        graded = next((e for e in outcome.result.expectations if e.name == self.name), None)
        if graded is None:
            pytest.fail(f"{self.name} was not graded (the run aborted: {outcome.error})", pytrace=False)
        if graded.verdict is not Verdict.PASS:
            pytest.fail(f"{self.name} {graded.verdict.value}: observed {graded.observed_text}, bound "
                        f"{graded.bound_text}; {graded.note}", pytrace=False)
