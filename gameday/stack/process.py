"""Child processes with a lifecycle: started in their own process group, tied to the harness by a
parent-death signal, logged to a file, waited on for readiness, and always stopped.

A child is exec'ed here, or forked by a :class:`ProcessLauncher` (``gameday.stack.launcher``: the
fork server) when one is given and can start it; either way it is a :class:`ChildProcess`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import psutil

from gameday.stack.errors import ServiceStartError
from gameday.stack.sysv_shm import release_orphaned_segments, started_epoch_s

_PR_SET_PDEATHSIG = 1
_READY_LINE = re.compile(rb"^READY((?:\s+\w+=\d+)*)\s*$")


def die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        data = path.read_bytes()[-16384:]
    except OSError:
        return "(no log)"
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def process_start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive_as_recorded(pid: int, start_ticks: int | None) -> bool:
    return start_ticks is not None and process_start_ticks(pid) == start_ticks


def program_of(pid: int) -> str | None:
    """The program a process runs (the first word of its command line), ``None`` if it is gone."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return cmdline.split(b"\0", 1)[0].decode(errors="replace") or None


@dataclass
class ProcessSpec:
    name: str
    argv: Sequence[str]
    log_path: Path
    cwd: Path | None = None
    user: str | None = None
    env: dict[str, str] | None = None
    ready_line: bool = False  # the child prints "READY key=port ..." on stdout when serving
    stdin_pipe: bool = False  # the parent writes to the child's stdin (``proc.stdin``); else /dev/null
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout_s: float = 5.0
    releases_sysv_shm: bool = False  # Postgres: a SIGKILLed server's System V segment is released on stop
    pass_fds: tuple[int, ...] = ()  # descriptors the child inherits (same numbers), beside 0-2


class ChildProcess(Protocol):
    """What the harness holds of a started child: ``asyncio.subprocess.Process``, or a forked one."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    @property
    def stdin(self) -> asyncio.StreamWriter | None: ...

    @property
    def stdout(self) -> asyncio.StreamReader | None: ...

    async def wait(self) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def kill(self) -> None: ...


@runtime_checkable
class HoldsPipes(Protocol):
    """A child whose pipes its holder closes once it is stopped (asyncio's own close themselves)."""

    def close_pipes(self) -> None: ...


class ProcessLauncher(Protocol):
    async def launch(self, spec: ProcessSpec) -> ChildProcess | None:
        """The child started as ``spec`` says, or ``None`` when this launcher cannot start it."""
        ...


@dataclass
class ManagedProcess:
    """One running child. ``ports`` holds what its READY line announced."""

    spec: ProcessSpec
    proc: ChildProcess
    start_ticks: int | None
    ports: dict[str, int] = field(default_factory=dict)
    _stdout_drain: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.returncode is None

    def signal(self, sig: signal.Signals) -> None:
        """Signal the whole process group (a service's own children included)."""
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def _descendants(self) -> list[psutil.Process]:
        """Every process the service forked, in its group or not (Postgres backends lead sessions of
        their own): taken before the leader stops, after which they would belong to init."""
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            return []

    async def stop(self) -> int | None:
        descendants = self._descendants() if self.proc.returncode is None else []
        if self.proc.returncode is None:
            self.signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            for child in descendants:  # nor can a paused child outside the group, which would outlive it
                with contextlib.suppress(psutil.Error):
                    child.send_signal(signal.SIGCONT)
            self.signal(self.spec.stop_signal)
            try:
                await asyncio.wait_for(self.proc.wait(), self.spec.stop_timeout_s)
            except TimeoutError:
                self.signal(signal.SIGKILL)
                await self.proc.wait()
        # the group may hold children that outlived the leader, and so may other sessions
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for child in descendants:  # psutil refuses a pid that was reused meanwhile
            with contextlib.suppress(psutil.Error):
                child.kill()
        if self.spec.releases_sysv_shm and self.start_ticks is not None:  # a SIGKILLed Postgres leaves it
            await asyncio.to_thread(psutil.wait_procs, descendants, 2.0)  # detached once they are gone
            # backends killed with it may still be exiting on a busy machine: wait (bounded) until detached
            await asyncio.to_thread(release_orphaned_segments, {self.pid: started_epoch_s(self.start_ticks)},
                                    wait_s=2.0)
        if self._stdout_drain is not None:
            self._stdout_drain.cancel()
            # gather, not suppress(CancelledError): a cancellation of the caller must still propagate
            await asyncio.gather(self._stdout_drain, return_exceptions=True)
        if isinstance(self.proc, HoldsPipes):
            self.proc.close_pipes()
        return self.proc.returncode


SpawnHook = Callable[[ManagedProcess], None]


async def start_process(
    spec: ProcessSpec, *, on_spawn: SpawnHook, ready_timeout_s: float = 15.0,
    launcher: ProcessLauncher | None = None,
) -> ManagedProcess:
    """Start a child (forked by ``launcher`` when it can, else exec'ed); when ``spec.ready_line`` is
    set, wait for its READY line (ports included).

    ``on_spawn`` sees the process the moment it exists, so whoever owns the stack can stop it
    even if this start-up is cancelled half way.
    """
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    proc = None if launcher is None else await launcher.launch(spec)
    if proc is None:
        proc = await _exec(spec)
    managed = ManagedProcess(spec=spec, proc=proc, start_ticks=process_start_ticks(proc.pid))
    on_spawn(managed)
    if not spec.ready_line:
        return managed
    try:
        managed.ports = await asyncio.wait_for(_read_ready_line(managed), ready_timeout_s)
    except (TimeoutError, ServiceStartError) as error:
        await managed.stop()
        reason = "timed out waiting for READY" if isinstance(error, TimeoutError) else str(error)
        raise ServiceStartError(spec.name, reason, log_tail(spec.log_path)) from None
    managed._stdout_drain = asyncio.create_task(_copy_stdout(managed))
    return managed


async def _exec(spec: ProcessSpec) -> asyncio.subprocess.Process:
    with spec.log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *spec.argv,
            stdin=asyncio.subprocess.PIPE if spec.stdin_pipe else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if spec.ready_line else log,
            stderr=log,
            cwd=spec.cwd,
            env=spec.env,
            user=spec.user,
            group=spec.user,  # the user's own group, not the harness's
            extra_groups=[] if spec.user else None,
            start_new_session=True,
            preexec_fn=die_with_parent,
            pass_fds=spec.pass_fds,
        )


async def _read_ready_line(managed: ManagedProcess) -> dict[str, int]:
    stdout = managed.proc.stdout
    assert stdout is not None
    with managed.spec.log_path.open("ab") as log:
        while True:
            line = await stdout.readline()
            if not line:
                code = await managed.proc.wait()
                raise ServiceStartError(managed.spec.name, f"exited with code {code} before READY", "")
            log.write(line)
            match = _READY_LINE.match(line.strip())
            if match:
                pairs = match.group(1).decode().split()
                return {key: int(value) for key, value in (pair.split("=") for pair in pairs)}


async def _copy_stdout(managed: ManagedProcess) -> None:
    stdout = managed.proc.stdout
    assert stdout is not None
    with managed.spec.log_path.open("ab") as log:
        while line := await stdout.readline():
            log.write(line)
            log.flush()


async def wait_until(
    name: str,
    check: Callable[[], Awaitable[bool]],
    *,
    timeout_s: float,
    log_path: Path,
    process: ManagedProcess | None = None,
    poll_interval_s: float = 0.02,
) -> None:
    """Poll a readiness check until it holds; fail with the service's log tail."""
    deadline = time.monotonic() + timeout_s
    last_error = "not ready"
    while True:
        if process is not None and not process.running:
            raise ServiceStartError(name, f"exited with code {process.proc.returncode}", log_tail(log_path))
        try:
            if await check():
                return
        except Exception as error:  # a readiness probe's failure is only "not yet"
            last_error = f"{type(error).__name__}: {error}"
        if time.monotonic() >= deadline:
            reason = f"not ready after {timeout_s:.1f}s ({last_error})"
            raise ServiceStartError(name, reason, log_tail(log_path))
        await asyncio.sleep(poll_interval_s)
