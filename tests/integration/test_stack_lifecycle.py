"""Supervision and reaping with real processes: nothing a run starts outlives it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gameday.stack.errors import ServiceStartError
from gameday.stack.process import ManagedProcess, ProcessSpec, process_start_ticks, start_process
from gameday.stack.reaper import reap_stale_runs
from gameday.stack.rundir import RunDir
from tests.integration.processes import alive, wait_for


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _registry(root: Path, run_id: str, harness_pid: int, harness_ticks: int | None,
              processes: list[dict[str, object]], scratch: Path) -> Path:
    path = root / ".active" / f"{run_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_dir": str(root / run_id),
                                "harness": {"pid": harness_pid, "start_ticks": harness_ticks},
                                "processes": processes, "scratch": [str(scratch)]}))
    return path


def test_reaper_stops_what_a_dead_run_left(tmp_path: Path) -> None:
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    scratch = tmp_path / "some-scenario" / "dead-run" / "scratch"
    scratch.mkdir(parents=True)
    entry = {"name": "venue", "pid": orphan.pid, "start_ticks": process_start_ticks(orphan.pid)}
    registry = _registry(tmp_path, "dead-run", _dead_pid(), 1, [entry], scratch)
    try:
        reaped = reap_stale_runs(tmp_path)
        orphan.wait(timeout=5)
        assert orphan.returncode == -signal.SIGKILL
        assert [r.killed for r in reaped] == [(f"venue({orphan.pid})",)]
        assert not scratch.exists()
        assert not registry.exists()
    finally:
        orphan.kill()


def test_reaper_removes_no_path_but_a_runs_own_scratch(tmp_path: Path) -> None:
    precious, elsewhere = tmp_path / "precious", tmp_path / "other-scenario" / "another-run" / "scratch"
    for path in (precious, elsewhere):
        path.mkdir(parents=True)
    for forged in (precious, elsewhere, Path("/")):
        registry = _registry(tmp_path, "dead-run", _dead_pid(), 1, [], forged)
        reap_stale_runs(tmp_path)
        assert not registry.exists()
    assert precious.exists()
    assert elsewhere.exists()


def test_reaper_leaves_a_live_run_alone(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    registry = _registry(tmp_path, "live-run", os.getpid(), process_start_ticks(os.getpid()),
                         [{"name": "venue", "pid": child.pid, "start_ticks": process_start_ticks(child.pid)}],
                         scratch)
    try:
        assert reap_stale_runs(tmp_path) == []
        assert alive(child.pid)
        assert registry.exists()
        assert scratch.exists()
    finally:
        child.kill()
        child.wait()


def test_reaper_never_kills_a_recycled_pid(tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "60"], start_new_session=True)
    ticks = process_start_ticks(bystander.pid)
    assert ticks is not None
    _registry(tmp_path, "dead-run", _dead_pid(), 1,
              [{"name": "venue", "pid": bystander.pid, "start_ticks": ticks - 1}], tmp_path / "scratch")
    try:
        reaped = reap_stale_runs(tmp_path)
        assert [r.killed for r in reaped] == [()]
        assert alive(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


def test_children_die_with_a_harness_killed_by_sigkill(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from gameday.stack.process import ProcessSpec, start_process
        async def main():
            log = Path({str(tmp_path)!r}) / "s.log"
            spec = ProcessSpec(name="sleeper", argv=["sleep", "60"], log_path=log)
            process = await start_process(spec, on_spawn=lambda p: None)
            print(process.pid, flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
    """)
    harness = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert harness.stdout is not None
    child_pid = int(harness.stdout.readline())
    assert alive(child_pid)
    harness.send_signal(signal.SIGKILL)
    harness.wait()
    harness.stdout.close()
    wait_for(lambda: not alive(child_pid), 5, "the service to die with its harness")


async def test_ready_line_gives_ports_and_stop_is_clean(tmp_path: Path) -> None:
    spawned: list[ManagedProcess] = []
    code = ("import signal,sys,time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); "
            "print('READY http=1234 admin=99', flush=True); time.sleep(60)")
    spec = ProcessSpec(name="svc", argv=[sys.executable, "-c", code], log_path=tmp_path / "svc.log",
                       ready_line=True)
    process = await start_process(spec, on_spawn=spawned.append)
    assert spawned == [process]
    assert process.ports == {"http": 1234, "admin": 99}
    assert await process.stop() == 0
    assert not alive(process.pid)


async def test_a_service_that_dies_before_ready_fails_with_its_log(tmp_path: Path) -> None:
    code = "import sys; print('bad config: no venue port', file=sys.stderr); sys.exit(3)"
    spec = ProcessSpec(name="venue", argv=[sys.executable, "-c", code], log_path=tmp_path / "v.log",
                       ready_line=True)
    with pytest.raises(ServiceStartError) as raised:
        await start_process(spec, on_spawn=lambda p: None)
    assert "exited with code 3" in str(raised.value)
    assert "bad config: no venue port" in raised.value.log_tail


async def test_a_service_that_never_gets_ready_times_out_and_is_stopped(tmp_path: Path) -> None:
    spawned: list[ManagedProcess] = []
    spec = ProcessSpec(name="slow", argv=["sleep", "60"], log_path=tmp_path / "slow.log", ready_line=True)
    with pytest.raises(ServiceStartError, match="timed out waiting for READY"):
        await start_process(spec, on_spawn=spawned.append, ready_timeout_s=0.3)
    assert not alive(spawned[0].pid)


def test_run_dir_layout(tmp_path: Path) -> None:
    run = RunDir(tmp_path, "failover-primary-crash", run_id="r1")
    run.create()
    assert run.path == tmp_path / "failover-primary-crash" / "r1"
    assert run.stack.is_dir()
    assert run.scratch.is_dir()
    assert run.registry_path == tmp_path / ".active" / "r1.json"


async def test_a_paused_service_whose_child_left_the_group_leaves_nothing(tmp_path: Path) -> None:
    # as a paused Postgres: the postmaster's children lead sessions of their own, and are stopped too
    child_code = "import time; time.sleep(60)"
    code = ("import os,subprocess,sys,time; "
            f"c = subprocess.Popen([sys.executable, '-c', {child_code!r}], start_new_session=True); "
            "print('READY child=%d' % c.pid, flush=True); time.sleep(60)")
    spec = ProcessSpec(name="pg-like", argv=[sys.executable, "-c", code], log_path=tmp_path / "p.log",
                       ready_line=True, stop_timeout_s=1.0)
    process = await start_process(spec, on_spawn=lambda p: None)
    child = process.ports["child"]
    assert os.getpgid(child) != os.getpgid(process.pid)
    os.kill(child, signal.SIGSTOP)
    process.signal(signal.SIGSTOP)
    await process.stop()
    wait_for(lambda: not alive(child), 5, "the paused child outside the group to be gone")
    assert not alive(process.pid)
