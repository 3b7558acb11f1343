"""The reaper stops a recorded process only while it is provably the one recorded: the same start
time and the same program. A PID reused by another program is left alone."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.stack.process import process_start_ticks, program_of
from gameday.stack.reaper import reap_stale_runs


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(60)"],
                               start_new_session=True, stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()  # it runs its own program now, not a copy of pytest's
    process.stdout.close()
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def _registry(reports: Path, process: subprocess.Popen[bytes], program: str | None) -> Path:
    entry = {"name": "svc", "pid": process.pid, "start_ticks": process_start_ticks(process.pid),
             **({"program": program} if program is not None else {})}
    path = reports / ".active" / "20260101T000000Z-abcdef.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"run_dir": str(reports / "x"), "harness": {"pid": 0, "start_ticks": 1},
                                "processes": [entry], "scratch": []}))
    return path


def test_a_process_running_the_recorded_program_is_stopped(tmp_path: Path,
                                                           sleeper: subprocess.Popen[bytes]) -> None:
    assert program_of(sleeper.pid) == sys.executable
    _registry(tmp_path, sleeper, sys.executable)

    (reaped,) = reap_stale_runs(tmp_path)

    assert reaped.killed == (f"svc({sleeper.pid})",)
    assert sleeper.wait(timeout=5) == -signal.SIGKILL


def test_a_process_running_another_program_is_left_alone(tmp_path: Path,
                                                         sleeper: subprocess.Popen[bytes]) -> None:
    registry = _registry(tmp_path, sleeper, "/usr/lib/postgresql/bin/postgres")

    (reaped,) = reap_stale_runs(tmp_path)

    assert reaped.killed == ()
    assert sleeper.poll() is None
    assert not registry.exists()


def test_a_process_has_its_program_while_it_runs_and_none_once_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "print('up', flush=True); import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        assert child.stdout.readline() == b"up\n"  # it runs the program now
        assert program_of(child.pid) == sys.executable
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()
    assert program_of(child.pid) is None
