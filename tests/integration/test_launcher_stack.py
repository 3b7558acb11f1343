"""The reference stack starts its Python services from its launcher (and without it when told), and
leaves nothing behind either way."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psutil
import pytest

from gameday.stack.launcher import LAUNCHER_ENV, LaunchedProcess, current_launcher
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from reference_target.local import LocalStack
from tests.integration.processes import alive

pytestmark = pytest.mark.integration

PYTHON_SERVICES = {"exchange", "toxiproxy", "oms-primary", "oms-dr", "db-failover", "failover"}


async def test_every_python_service_is_a_fork_of_the_stacks_launcher(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "reports", "launched")
    async with LocalStack(StackSettings(run_dir=run, seed=3, cache_dir=tmp_path / "cache")) as stack:
        launcher = current_launcher()
        assert launcher is not None
        forked = {name for name, process in stack.processes.items()
                  if isinstance(process.proc, LaunchedProcess)}
        assert forked == PYTHON_SERVICES
        for name in forked:
            assert psutil.Process(stack.processes[name].pid).ppid() == launcher.process.pid
        record = json.loads(run.registry_path.read_text())
        registered = {entry["name"]: entry for entry in record["processes"]}
        assert registered["launcher"]["pid"] == launcher.process.pid
        assert registered["launcher"]["program"] == sys.executable
        pids = [launcher.process.pid, *(process.pid for process in stack.processes.values())]

    assert current_launcher() is None
    assert not any(alive(pid) for pid in pids)
    assert not run.registry_path.exists()
    assert (run.stack / "launcher.log").read_text() == "", "every module the target names was imported"


async def test_without_the_launcher_every_service_is_execed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LAUNCHER_ENV, "off")
    run = RunDir(tmp_path / "reports", "execed")
    async with LocalStack(StackSettings(run_dir=run, seed=4, cache_dir=tmp_path / "cache")) as stack:
        assert current_launcher() is None
        assert not any(isinstance(process.proc, LaunchedProcess) for process in stack.processes.values())
        assert set(stack.processes) >= PYTHON_SERVICES
