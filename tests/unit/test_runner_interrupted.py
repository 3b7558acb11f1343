"""An interrupted run (Ctrl-C, SIGTERM) still leaves a junit.xml and a results.json, marked
interrupted and ungraded, and the interruption always propagates."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

import gameday.runner
from gameday.history import read_history
from gameday.runner import HISTORY_FILE, RunSettings, analyze_run, run_scenario
from gameday.scenario import load_scenario
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackEndpoints, StackSettings
from gameday.target import register_target
from gameday.verdict import RunStatus

CRASH = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"


class _InterruptedStack:
    """A stack whose start is interrupted, as Ctrl-C during ``async with stack`` would."""

    def __init__(self, settings: StackSettings, interruption: type[BaseException]) -> None:
        self.settings = settings
        self.endpoints = StackEndpoints()
        self.toxiproxy = None
        self.started_in_s = None
        self._interruption = interruption

    def observe_nats(self, observer: object) -> None:
        pass

    async def __aenter__(self) -> Self:
        raise self._interruption

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        pass


class _InterruptedTarget:
    defects: Mapping[str, str] = {}
    versions: tuple[str, ...] = ("v1",)

    def __init__(self, interruption: type[BaseException]) -> None:
        self.name = f"interrupted-by-{interruption.__name__}"
        self._interruption = interruption

    def section(self, key: str, value: Any) -> Any:
        return value

    def stack(self, settings: StackSettings) -> _InterruptedStack:
        return _InterruptedStack(settings, self._interruption)


async def _interrupted_run(tmp_path: Path, interruption: type[BaseException], lines: list[str]) -> Path:
    target = _InterruptedTarget(interruption)
    register_target(target)  # type: ignore[arg-type]  # a partial Stack: only what the runner touches
    settings = RunSettings(reports_root=tmp_path, target=target.name)
    with pytest.raises(interruption):
        await run_scenario(load_scenario(CRASH), CRASH, settings, progress=lines.append)
    [history] = tmp_path.glob(f"failover-primary-crash/*/{HISTORY_FILE}")
    return history.parent


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, asyncio.CancelledError])
async def test_an_interrupted_run_writes_an_ungraded_junit_marked_interrupted(
        tmp_path: Path, interruption: type[BaseException]) -> None:
    run_dir = await _interrupted_run(tmp_path, interruption, [])

    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    results = json.loads((run_dir / "results.json").read_text())

    assert suite is not None
    [case] = suite.findall("testcase")
    assert case.attrib["name"] == "failover-primary-crash.interrupted"
    error = case.find("error")
    assert error is not None
    assert error.attrib["message"] == "interrupted"
    assert (results["run_status"], results["abort_reason"], results["expectations"]) == (
        "interrupted", "interrupted", [])
    assert results["run_id"] == run_dir.name  # named, though the stack never came up to record a start
    end = read_history(run_dir / HISTORY_FILE)[-1]
    assert (end.f, end.value) == ("end", {"status": "interrupted", "error": "interrupted"})
    scratch = RunDir(tmp_path, "failover-primary-crash", run_id=run_dir.name).scratch
    assert not scratch.exists(), "the run removes the scratch it made, whichever stack it ran"


async def test_a_report_that_cannot_be_written_never_masks_the_interruption(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(gameday.runner, "write_reports", disk_full)
    lines: list[str] = []

    run_dir = await _interrupted_run(tmp_path, KeyboardInterrupt, lines)

    assert not (run_dir / "junit.xml").exists()
    assert "junit.xml not written: OSError: No space left on device" in lines


async def test_an_interrupted_run_analyzed_later_is_graded_and_still_says_it_was_interrupted(
        tmp_path: Path) -> None:
    run_dir = await _interrupted_run(tmp_path, KeyboardInterrupt, [])

    result = analyze_run(run_dir)

    assert (result.run_status, result.exit_code) == (RunStatus.INTERRUPTED, 4)
    assert len(result.expectations) == len(load_scenario(CRASH).expectations)
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.find("testcase[@name='failover-primary-crash.interrupted']/error") is not None
    assert suite.attrib["tests"] == str(len(result.expectations) + 1)
    assert "- the run INTERRUPTED: interrupted" in (run_dir / "summary.md").read_text()
