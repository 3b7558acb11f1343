"""A run stopped half way — Ctrl-C, SIGTERM, or SIGKILL of the harness — leaves nothing behind."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from gameday.scenario.presets import StackPreset, topology
from gameday.stack.reaper import reap_stale_runs
from gameday.stack.sysv_shm import SYSV_SHM_TABLE, created_by, parse_segments
from tests.integration.processes import alive, wait_for

SCENARIO = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"

pytestmark = pytest.mark.integration






def _as_a_background_job() -> None:
    """A shell starts background jobs with SIGINT ignored; the harness must still honour it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _start_run(reports: Path) -> tuple[subprocess.Popen[str], list[int], Path]:
    """Start ``gameday run`` and wait until its registry lists the whole stack."""
    harness = subprocess.Popen(
        [sys.executable, "-c", "from gameday.cli import main; main()", "run", str(SCENARIO),
         "--reports", str(reports)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_as_a_background_job)
    active = reports / ".active"

    def whole_stack_registered() -> bool:
        for registry in active.glob("*.json"):
            try:
                processes = json.loads(registry.read_text())["processes"]
                return len(processes) == len(topology(StackPreset.ACTIVE_PASSIVE).services)
            except (OSError, json.JSONDecodeError, KeyError):
                return False
        return False

    wait_for(whole_stack_registered, 60, "the stack to be registered")
    record = json.loads(next(active.glob("*.json")).read_text())
    pids = [int(p["pid"]) for p in record["processes"]]
    assert all(alive(pid) for pid in pids)
    return harness, pids, Path(record["run_dir"])


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_stops_every_process_and_exits_130(tmp_path: Path, sig: signal.Signals) -> None:
    harness, pids, run_dir = _start_run(tmp_path)
    harness.send_signal(sig)
    output, _ = harness.communicate(timeout=60)

    assert harness.returncode == 130, output
    assert "Traceback" not in output
    assert [pid for pid in pids if alive(pid)] == []
    assert list((tmp_path / ".active").glob("*.json")) == []
    assert not (run_dir / "scratch").exists()


def test_a_harness_killed_with_sigkill_takes_its_stack_and_the_next_run_reaps(tmp_path: Path) -> None:
    harness, pids, run_dir = _start_run(tmp_path)
    started = {pid: psutil.Process(pid).create_time() for pid in pids}  # a recycled PID is not ours
    harness.send_signal(signal.SIGKILL)
    harness.communicate(timeout=30)

    wait_for(lambda: not any(alive(pid) for pid in pids), 10, "the services to die with their harness")
    assert list((tmp_path / ".active").glob("*.json")), "a killed run cannot remove its own registry"

    reaped = reap_stale_runs(tmp_path)

    assert [r.run_dir for r in reaped] == [str(run_dir)]
    assert list((tmp_path / ".active").glob("*.json")) == []
    assert not (run_dir / "scratch").exists()
    left = created_by(parse_segments(SYSV_SHM_TABLE.read_text()), started)
    assert left == [], "the killed Postgres servers' System V segments are released by the reaper"
