"""How process faults reach a service of a stack the harness did not start: a local PID, a Docker
container (the Docker SDK), or the command templates of the user's target file."""

from __future__ import annotations

import asyncio
import os
import shlex
import time
from pathlib import Path
from signal import Signals
from typing import Any, Protocol

from gameday.stack.errors import StackError
from gameday.target_file import CommandSet, ServiceAccess

__all__ = ["CommandDoor", "ContainerDoor", "PidDoor", "ServiceDoor", "door_for"]

OUTPUT_TAIL = 400


class ServiceDoor(Protocol):
    async def signal(self, sig: Signals) -> dict[str, Any]: ...

    async def restart(self, sig: Signals, grace_s: float) -> dict[str, Any]: ...


class PidDoor:
    """A local process: its PID, or the PID file it keeps (read again at each fault: a restarted
    service writes a new one)."""

    def __init__(self, service: str, pid: int | None, pid_file: Path | None) -> None:
        self.service, self._pid, self._pid_file = service, pid, pid_file

    def pid(self) -> int:
        if self._pid is not None:
            return self._pid
        assert self._pid_file is not None
        try:
            return int(self._pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError) as error:
            raise StackError(f"{self.service}: no PID in {self._pid_file}: {error}") from None

    async def signal(self, sig: Signals) -> dict[str, Any]:
        pid = self.pid()
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            raise StackError(f"{self.service}: no process {pid}") from None
        except PermissionError:
            raise StackError(f"{self.service}: not allowed to signal process {pid}") from None
        return {"pid": pid, "via": "pid"}

    async def restart(self, sig: Signals, grace_s: float) -> dict[str, Any]:
        raise StackError(f"{self.service}: a PID gives no way to start the service again")


class ContainerDoor:
    """A Docker container, through the Docker SDK, on the engine the compose backend uses.
    SIGSTOP and SIGCONT are ``pause`` and ``unpause`` (the cgroup freezer: the container cannot
    see it coming, as with SIGSTOP)."""

    def __init__(self, service: str, container: str) -> None:
        self.service, self.container = service, container

    def _container(self) -> Any:
        import docker  # the SDK only where a target names a container
        from docker.errors import DockerException

        from gameday.stack.compose import docker_env

        try:
            return docker.from_env(environment=docker_env()).containers.get(self.container)
        except DockerException as error:
            raise StackError(f"{self.service}: container {self.container!r}: {error}") from None

    def _signal(self, sig: Signals) -> None:
        from docker.errors import DockerException

        container = self._container()
        try:
            if sig is Signals.SIGSTOP:
                container.pause()
            elif sig is Signals.SIGCONT:
                container.unpause()
            else:
                container.kill(signal=sig.name)
        except DockerException as error:
            raise StackError(f"{self.service}: {sig.name} to container {self.container!r}: {error}") from None

    async def signal(self, sig: Signals) -> dict[str, Any]:
        await asyncio.to_thread(self._signal, sig)
        return {"container": self.container, "via": "docker"}

    async def restart(self, sig: Signals, grace_s: float) -> dict[str, Any]:
        began = time.monotonic()
        container = await asyncio.to_thread(self._container)
        await asyncio.to_thread(container.kill, signal=sig.name)
        await asyncio.to_thread(container.restart, timeout=max(1, round(grace_s)))
        took_s = round(time.monotonic() - began, 3)
        return {"container": self.container, "via": "docker", "restarted_s": took_s}


class CommandDoor:
    """The target file's command templates; SIGSTOP runs ``pause``, SIGCONT ``resume``, any other
    signal ``kill``. A command that fails or outlives its timeout fails the fault."""

    def __init__(self, service: str, commands: CommandSet) -> None:
        self.service, self.commands = service, commands

    async def _run(self, what: str, template: str | None, sig: Signals) -> dict[str, Any]:
        if template is None:
            raise StackError(f"{self.service}: the target file gives no {what} command")
        argv = [word.format(service=self.service, signal=sig.name, signum=int(sig))
                for word in shlex.split(template)]
        began = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
        except OSError as error:
            raise StackError(f"{self.service}: {what} command {argv[0]!r} did not start: {error}") from None
        try:
            output, _ = await asyncio.wait_for(process.communicate(), self.commands.timeout_s)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise StackError(f"{self.service}: {what} command outlived {self.commands.timeout_s}s") from None
        text = output.decode(errors="replace")[-OUTPUT_TAIL:]
        if process.returncode != 0:
            raise StackError(f"{self.service}: {what} command exited {process.returncode}: {text.strip()}")
        took_s = round(time.monotonic() - began, 3)
        return {"via": "command", "command": argv, "output": text, "took_s": took_s}

    async def signal(self, sig: Signals) -> dict[str, Any]:
        if sig is Signals.SIGSTOP:
            return await self._run("pause", self.commands.pause, sig)
        if sig is Signals.SIGCONT:
            return await self._run("resume", self.commands.resume, sig)
        return await self._run("kill", self.commands.kill, sig)

    async def restart(self, sig: Signals, grace_s: float) -> dict[str, Any]:
        return await self._run("restart", self.commands.restart, sig)


def door_for(service: str, access: ServiceAccess) -> ServiceDoor:
    if access.commands is not None:
        return CommandDoor(service, access.commands)
    if access.container is not None:
        return ContainerDoor(service, access.container)
    return PidDoor(service, access.pid, access.pid_file)
