"""A service forked by the launcher behaves as the same ``python -m`` exec'ed: what it sees of itself,
its exit codes, its signals (stop, kill, pause), its log, its reaping, and its death with the harness."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from gameday.stack.launcher import LaunchedProcess, Launcher
from gameday.stack.process import ManagedProcess, ProcessSpec, process_start_ticks, program_of, start_process
from gameday.stack.reaper import reap_stale_runs
from tests.integration.processes import alive, wait_for

pytestmark = pytest.mark.integration

PROBE = '''
import json, os, signal, sys, time

def disposition(sig):
    handler = signal.getsignal(sig)
    return getattr(handler, "__name__", str(handler))

mode = sys.argv[1]
if mode == "report":
    fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
    print(json.dumps({
        "argv": sys.argv[1:], "argv0": os.path.basename(sys.argv[0]), "orig_argv": sys.orig_argv,
        "name": __name__, "cwd": os.getcwd(), "path0": sys.path[0], "probe_env": os.environ.get("PROBE_ENV"),
        "leader": os.getsid(0) == os.getpid() == os.getpgid(0),
        "signals": {s.name: disposition(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE,
                                                      signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1)},
        "blocked": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
        "fds_open_at_start": fds[:3], "fds_beyond_stdio": len(fds) - 3,
        "main_module": sys.modules["__main__"].__file__ == __file__,
        "stdout_is_pipe": not os.isatty(1),
    }), flush=True)
elif mode == "serve":
    signal.signal(signal.SIGTERM, lambda *_: (print("stopping on SIGTERM", file=sys.stderr), sys.exit(0)))
    print("hello on stdout", flush=True)
    print("READY port=1", flush=True)
    while True:
        time.sleep(0.01)
        print("tick", flush=True)
elif mode == "exit":
    sys.exit(int(sys.argv[2]))
elif mode == "message":
    sys.exit("a message for stderr")
elif mode == "crash":
    raise RuntimeError("the probe crashed")
elif mode == "atexit":
    import atexit
    atexit.register(lambda: print("atexit ran", flush=True))
    print("buffered, not flushed")
'''


@pytest.fixture
def probe_dir(tmp_path: Path) -> Path:
    (tmp_path / "probe.py").write_text(PROBE)
    return tmp_path


@pytest.fixture
async def launcher(tmp_path: Path) -> AsyncIterator[Launcher]:
    started = await Launcher.start(["json", "asyncio"], tmp_path / "launcher.log", on_spawn=lambda _p: None)
    assert started is not None
    try:
        yield started
    finally:
        await started.close()


def probe_spec(probe_dir: Path, name: str, *args: str, ready_line: bool = False) -> ProcessSpec:
    return ProcessSpec(name=name, argv=[sys.executable, "-m", "probe", *args], cwd=probe_dir,
                       log_path=probe_dir / f"{name}.log", ready_line=ready_line, stop_timeout_s=3.0)


async def start(spec: ProcessSpec, launcher: Launcher | None, forked: bool = True) -> ManagedProcess:
    process = await start_process(spec, on_spawn=lambda _p: None, launcher=launcher)
    assert isinstance(process.proc, LaunchedProcess) is forked
    return process


def report_of(log: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(log.read_text().splitlines()[0])
    return report


async def test_a_forked_service_sees_what_an_execed_one_sees(
        probe_dir: Path, launcher: Launcher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_ENV", "set after the launcher started")
    reports = {}
    for name, via in (("forked", launcher), ("execed", None)):
        spec = probe_spec(probe_dir, name, "report", "--flag", "x y")
        process = await start(spec, via, forked=via is not None)
        assert await process.proc.wait() == 0
        await process.stop()
        reports[name] = report_of(probe_dir / f"{name}.log")

    assert reports["forked"] == reports["execed"]
    assert reports["forked"]["argv"] == ["report", "--flag", "x y"]
    assert reports["forked"]["orig_argv"] == [sys.executable, "-m", "probe", "report", "--flag", "x y"]
    assert reports["forked"]["name"] == "__main__"
    assert reports["forked"]["main_module"]
    assert reports["forked"]["cwd"] == reports["forked"]["path0"] == str(probe_dir)
    assert reports["forked"]["probe_env"] == "set after the launcher started"
    assert reports["forked"]["leader"]
    # an interpreter installs its KeyboardInterrupt handler unless SIGINT came to it ignored (a
    # background job of a non-interactive shell): a forked service must do the same
    inherited_ignored = signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert reports["forked"]["signals"]["SIGINT"] == ("1" if inherited_ignored else "default_int_handler")


@pytest.mark.parametrize(("args", "code", "in_log"), [
    (("exit", "7"), 7, None),
    (("message",), 1, "a message for stderr"),
    (("crash",), 1, "RuntimeError: the probe crashed"),
    (("atexit",), 0, "buffered, not flushed\natexit ran"),
])
async def test_exit_codes_and_last_words_are_an_interpreters(
        probe_dir: Path, launcher: Launcher, args: tuple[str, ...], code: int, in_log: str | None) -> None:
    process = await start(probe_spec(probe_dir, "probe", *args), launcher)

    assert await process.proc.wait() == code
    await process.stop()
    if in_log is not None:
        assert in_log in (probe_dir / "probe.log").read_text()


async def test_sigterm_kill_and_pause_reach_one_service_only(probe_dir: Path, launcher: Launcher) -> None:
    one = await start(probe_spec(probe_dir, "one", "serve", ready_line=True), launcher)
    two = await start(probe_spec(probe_dir, "two", "serve", ready_line=True), launcher)
    assert one.ports == {"port": 1}
    try:
        one.signal(signal.SIGSTOP)
        await until(lambda: _state(one.pid) == "T", "a paused service")
        await asyncio.sleep(0.1)
        size = (probe_dir / "one.log").stat().st_size
        await asyncio.sleep(0.2)
        assert (probe_dir / "one.log").stat().st_size == size, "a paused service writes nothing"
        one.signal(signal.SIGCONT)
        await until(lambda: (probe_dir / "one.log").stat().st_size > size, "a resumed service")

        two.signal(signal.SIGKILL)
        assert await two.proc.wait() == -signal.SIGKILL
        assert one.running
        assert alive(one.pid)

        assert await one.stop() == 0  # its SIGTERM handler exits 0
    finally:
        await one.stop()
        await two.stop()
    one_log, two_log = (probe_dir / "one.log").read_text(), (probe_dir / "two.log").read_text()
    for line in ("hello on stdout", "READY port=1", "stopping on SIGTERM"):
        assert line in one_log
    assert "hello on stdout" in two_log
    assert "stopping on SIGTERM" not in two_log


async def test_a_forked_service_is_recognised_and_reaped_as_recorded(
        probe_dir: Path, launcher: Launcher, tmp_path: Path) -> None:
    process = await start(probe_spec(probe_dir, "orphan", "serve", ready_line=True), launcher)
    try:
        assert program_of(process.pid) == sys.executable  # the reaper's program: the interpreter, as exec'ed
        assert program_of(process.pid) == program_of(launcher.process.pid)
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        assert cmdline[:3] == [os.fsencode(sys.executable), b"-m", b"probe"], "ps shows the service"
        registry = tmp_path / "reports" / ".active" / "dead-harness-run.json"
        registry.parent.mkdir(parents=True)
        recorded = {"name": "orphan", "pid": process.pid, "start_ticks": process_start_ticks(process.pid),
                    "program": program_of(process.pid)}
        registry.write_text(json.dumps({"run_dir": str(tmp_path), "scratch": [], "processes": [recorded],
                                        "harness": {"pid": 2**22 + 1, "start_ticks": 1}}))

        [reaped] = reap_stale_runs(tmp_path / "reports")

        assert reaped.killed == (f"orphan({process.pid})",)
        assert await asyncio.wait_for(process.proc.wait(), 5.0) == -signal.SIGKILL
    finally:
        await process.stop()


HARNESS = '''
import asyncio, json, sys
from pathlib import Path
from gameday.stack.launcher import Launcher
from gameday.stack.process import ProcessSpec, start_process

async def main(directory):
    launcher = await Launcher.start(["json"], directory / "launcher.log", on_spawn=lambda _p: None)
    pids = [launcher.process.pid]
    for name in ("a", "b"):
        spec = ProcessSpec(name=name, argv=[sys.executable, "-m", "probe", "serve"], cwd=directory,
                           log_path=directory / f"{name}.log", ready_line=True)
        process = await start_process(spec, on_spawn=lambda _p: None, launcher=launcher)
        pids.append(process.pid)
    print(json.dumps(pids), flush=True)
    await asyncio.sleep(60)

asyncio.run(main(Path(sys.argv[1])))
'''


def test_a_sigkilled_harness_takes_the_launcher_and_every_forked_service_down(probe_dir: Path) -> None:
    harness = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HARNESS), str(probe_dir)],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert harness.stdout is not None
        pids = json.loads(harness.stdout.readline())
        assert len(pids) == 3
        assert all(alive(pid) for pid in pids)
    finally:
        harness.kill()
        harness.wait()
        assert harness.stdout is not None
        harness.stdout.close()
    wait_for(lambda: not any(alive(pid) for pid in pids), 5.0, "the launcher and its services to die")


async def test_what_the_launcher_cannot_start_is_execed(probe_dir: Path, launcher: Launcher) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "7"}
    as_tool = ProcessSpec(name="tool", argv=[sys.executable, "-c", "pass"], log_path=probe_dir / "tool.log")
    other_python_env = ProcessSpec(name="env", argv=[sys.executable, "-m", "probe", "exit", "0"],
                                   log_path=probe_dir / "env.log", cwd=probe_dir, env=env)
    for spec in (as_tool, other_python_env):
        process = await start(spec, launcher, forked=False)
        assert await process.proc.wait() == 0
        await process.stop()

    await launcher.close()
    after_close = await start(probe_spec(probe_dir, "late", "exit", "3"), launcher, forked=False)
    assert await after_close.proc.wait() == 3
    await after_close.stop()


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
