"""A run stopped at a random instant — while Python imports, while the stack starts, while it
trades — leaves nothing behind: no process it started, no scratch directory, no shared memory,
no registry entry (after SIGINT by itself; after SIGKILL once the next run's reaper has run).

The instants come from a seeded generator, so a failure names an instant that can be replayed.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from gameday.stack.reaper import reap_stale_runs
from gameday.stack.rundir import default_scratch_root
from gameday.stack.sysv_shm import SYSV_SHM_TABLE, created_by, parse_segments
from tests.integration.processes import wait_for

pytestmark = pytest.mark.integration

SCENARIO = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"
SEED = 20261207
_INSTANTS = random.Random(SEED)
INSTANTS_S = sorted(_INSTANTS.uniform(0.2, 6.0) for _ in range(4))
"""Seconds after the harness starts: Python's imports take about one, the stack about three more."""
CASES = [(signal.SIGINT, INSTANTS_S[0]), (signal.SIGKILL, INSTANTS_S[1]),
         (signal.SIGINT, INSTANTS_S[2]), (signal.SIGKILL, INSTANTS_S[3])]

Seen = dict[int, float]
"""PID → creation time of every process the harness started (a recycled PID is not ours)."""


def _descendants(harness: psutil.Process, seen: Seen) -> None:
    try:
        for child in harness.children(recursive=True):
            try:
                seen.setdefault(child.pid, child.create_time())
            except psutil.Error:
                continue
    except psutil.Error:
        pass


def _still_running(seen: Seen) -> list[str]:
    running = []
    for pid, created in seen.items():
        try:
            process = psutil.Process(pid)
            if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                running.append(f"{pid} {' '.join(process.cmdline())[:120]}")
        except psutil.Error:
            continue
    return running


def _scratch_left(reports: Path) -> list[Path]:
    """The scratch directories of the runs under ``reports`` that still exist (beside each run, or
    on tmpfs under the run's id)."""
    left = list(reports.glob("*/*/scratch"))
    root = default_scratch_root()
    if root is not None:
        left += [root / run.name for run in reports.glob("*/*") if (root / run.name).exists()]
    return left


@pytest.mark.parametrize(("sig", "instant_s"), CASES, ids=[f"{s.name}-at-{t:.2f}s" for s, t in CASES])
def test_a_run_stopped_at_any_instant_leaves_nothing(tmp_path: Path, sig: signal.Signals,
                                                     instant_s: float) -> None:
    harness = subprocess.Popen(
        [sys.executable, "-c", "from gameday.cli import main; main()", "run", str(SCENARIO),
         "--reports", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watched = psutil.Process(harness.pid)
    seen: Seen = {}
    stop_at = time.monotonic() + instant_s
    while time.monotonic() < stop_at:  # the instant is the test's input: watch what starts until then
        _descendants(watched, seen)
        time.sleep(0.02)
    _descendants(watched, seen)
    harness.send_signal(sig)
    code = harness.wait(timeout=60)

    if sig is signal.SIGKILL:
        reap_stale_runs(tmp_path)
    else:
        assert code in (130, -signal.SIGINT), f"exit {code}"  # -SIGINT: interrupted while importing

    wait_for(lambda: not _still_running(seen), 10, f"every process of the run to end: {_still_running(seen)}")
    assert list((tmp_path / ".active").glob("*.json")) == []
    assert _scratch_left(tmp_path) == []
    assert created_by(parse_segments(SYSV_SHM_TABLE.read_text()), seen) == []
