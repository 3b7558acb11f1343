"""The launcher's harness side against a scripted launcher on the other end of its socket: what it asks
for, what it refuses to ask for, how answers and exits reach the process it hands out."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gameday.stack.launcher import LaunchedProcess, Launcher, _exit_code, current_launcher, use_launcher
from gameday.stack.process import ManagedProcess, ProcessSpec


class _Exited:
    """The launcher process itself, as far as these tests need it: already gone, never signalled."""

    pid = 0
    returncode = 0
    stdin = None
    stdout = None

    async def wait(self) -> int:
        return 0

    def send_signal(self, sig: int) -> None:
        raise AssertionError("not signalled")

    def kill(self) -> None:
        raise AssertionError("not killed")


@dataclass
class Scripted:
    launcher: Launcher
    other_end: socket.socket

    async def request(self) -> tuple[dict[str, Any], list[int]]:
        data, fds, _, _ = await asyncio.to_thread(socket.recv_fds, self.other_end, 1 << 20, 3)
        request: dict[str, Any] = json.loads(data)
        return request, fds

    def answer(self, message: dict[str, Any]) -> None:
        self.other_end.send(json.dumps(message).encode())

    def nothing_asked(self) -> bool:
        self.other_end.setblocking(False)
        try:
            self.other_end.recv(1)
        except BlockingIOError:
            return True
        finally:
            self.other_end.setblocking(True)
        return False


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[Scripted]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.setblocking(False)
    spec = ProcessSpec(name="launcher", argv=["launcher"], log_path=tmp_path / "launcher.log")
    launcher = Launcher(ManagedProcess(spec=spec, proc=_Exited(), start_ticks=None), ours)
    try:
        yield Scripted(launcher, theirs)
    finally:
        launcher._reader.cancel()
        await asyncio.gather(launcher._reader, return_exceptions=True)
        ours.close()
        theirs.close()


def service(tmp_path: Path, *args: str, **fields: Any) -> ProcessSpec:
    argv = [sys.executable, "-m", "some.service", *args]
    return ProcessSpec(name="svc", argv=argv, log_path=tmp_path / "svc.log", ready_line=True, **fields)


async def test_a_launch_sends_the_service_and_its_descriptors_and_holds_the_answer(
        scripted: Scripted, tmp_path: Path) -> None:
    spec = service(tmp_path, "--config", "c.json", cwd=tmp_path)
    launching = asyncio.create_task(scripted.launcher.launch(spec))
    request, fds = await scripted.request()
    assert request["module"] == "some.service"
    assert request["args"] == ["--config", "c.json"]
    assert request["argv"] == [sys.executable, "-m", "some.service", "--config", "c.json"]
    assert request["cwd"] == str(tmp_path)
    assert request["env"] == dict(os.environ)
    stdin, stdout, stderr = fds
    assert os.read(stdin, 1) == b"", "stdin is /dev/null"
    os.write(stdout, b"READY port=7\n")
    os.write(stderr, b"to the log\n")
    for fd in fds:
        os.close(fd)
    scripted.answer({"id": request["id"], "pid": 4242})

    child = await launching
    assert isinstance(child, LaunchedProcess)
    assert child.pid == 4242
    assert child.returncode is None
    assert child.stdout is not None
    assert await child.stdout.readline() == b"READY port=7\n"
    assert (tmp_path / "svc.log").read_bytes() == b"to the log\n"

    scripted.answer({"pid": 4242, "status": 3 << 8})  # waitpid's status of exit(3)
    assert await asyncio.wait_for(child.wait(), 2.0) == 3
    assert child.returncode == 3
    child.close_pipes()


async def test_a_child_killed_by_a_signal_has_the_negative_signal_as_its_code(
        scripted: Scripted, tmp_path: Path) -> None:
    launching = asyncio.create_task(scripted.launcher.launch(service(tmp_path)))
    request, fds = await scripted.request()
    for fd in fds:
        os.close(fd)
    scripted.answer({"id": request["id"], "pid": 4243})
    scripted.answer({"pid": 4243, "status": signal.SIGKILL})  # before the harness even read the reply

    child = await launching
    assert child is not None
    assert await asyncio.wait_for(child.wait(), 2.0) == -signal.SIGKILL
    child.close_pipes()


@pytest.mark.parametrize("fields", [
    {"argv": [sys.executable, "-c", "pass"]},
    {"argv": ["/usr/bin/env", "-m", "some.service"]},
    {"user": "nobody"},
    {"stdin_pipe": True},
    {"pass_fds": (0,)},
    {"env": {**os.environ, "PYTHONPATH": "/elsewhere"}},
])
async def test_what_an_exec_would_start_otherwise_is_not_asked_for(
        scripted: Scripted, tmp_path: Path, fields: dict[str, Any]) -> None:
    spec = service(tmp_path)
    for name, value in fields.items():
        setattr(spec, name, value)

    assert await scripted.launcher.launch(spec) is None
    assert scripted.nothing_asked()


async def test_a_refusal_is_an_exec(scripted: Scripted, tmp_path: Path) -> None:
    launching = asyncio.create_task(scripted.launcher.launch(service(tmp_path)))
    request, fds = await scripted.request()
    for fd in fds:
        os.close(fd)
    scripted.answer({"id": request["id"], "error": "the launcher runs threads"})

    assert await launching is None


async def test_a_launcher_gone_ends_its_children_and_launches_nothing_more(
        scripted: Scripted, tmp_path: Path) -> None:
    launching = asyncio.create_task(scripted.launcher.launch(service(tmp_path)))
    request, fds = await scripted.request()
    for fd in fds:
        os.close(fd)
    scripted.answer({"id": request["id"], "pid": 4244})
    child = await launching
    assert child is not None

    scripted.other_end.close()

    assert await asyncio.wait_for(child.wait(), 2.0) == -signal.SIGKILL  # its parent-death signal
    assert await scripted.launcher.launch(service(tmp_path)) is None
    child.close_pipes()


async def test_the_launcher_in_use_is_the_contexts() -> None:
    assert current_launcher() is None

    async def seen_by_a_task() -> Launcher | None:
        return current_launcher()

    marker: Any = object()
    use_launcher(marker)
    try:
        assert await asyncio.create_task(seen_by_a_task()) is marker
    finally:
        use_launcher(None)
    assert current_launcher() is None


def test_exit_codes_are_the_interpreters(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(None) == 0
    assert _exit_code(3) == 3
    assert _exit_code(256) == 0
    assert _exit_code("bad configuration") == 1
    assert capsys.readouterr().err == "bad configuration\n"


def test_the_reference_stack_names_modules_that_exist() -> None:
    from reference_target.local import DEPLOYER_SERVICES, PYTHON_SERVICES

    named = (*PYTHON_SERVICES, *DEPLOYER_SERVICES)
    assert [module for module in named if importlib.util.find_spec(module) is None] == []
