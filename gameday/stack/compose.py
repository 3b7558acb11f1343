"""A compose project under a name unique to the run: up with ``--wait``, logs kept, always down with
its volumes; a record in the reports root lets the next run take down what a killed run left.

The Docker engine is the one ``DOCKER_HOST`` names, else the project's own (compose/engine.sh) when
its socket exists, else the default one. Compose v2 runs as ``docker compose``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gameday.stack.errors import StackError
from gameday.stack.process import alive_as_recorded, process_start_ticks

__all__ = ["ComposeProject", "docker_env", "project_name", "reap_compose_projects"]

PROJECT_ENGINE_SOCKET = Path("/var/lib/gameday-docker/docker.sock")
RECORDS = Path(".active") / "compose"
OUTPUT_TAIL = 2000


def docker_env() -> dict[str, str]:
    """The environment docker and Compose run with (and the Docker SDK reads)."""
    env = dict(os.environ)
    if "DOCKER_HOST" not in env and PROJECT_ENGINE_SOCKET.exists():
        env["DOCKER_HOST"] = f"unix://{PROJECT_ENGINE_SOCKET}"
    return env


def project_name(run_id: str) -> str:
    """``gd-<run id>`` in the characters Compose allows in a project name."""
    return "gd-" + re.sub(r"[^a-z0-9_-]", "-", run_id.lower())


@dataclass
class ComposeProject:
    files: tuple[Path, ...]
    name: str
    env: Mapping[str, str]
    profiles: tuple[str, ...] = ()
    logs_dir: Path | None = None
    _docker: dict[str, str] = field(default_factory=docker_env)

    def _argv(self, *command: str) -> list[str]:
        files = [arg for path in self.files for arg in ("-f", str(path))]
        profiles = [arg for profile in self.profiles for arg in ("--profile", profile)]
        return ["docker", "compose", *files, "-p", self.name, *profiles, *command]

    async def _compose(self, *command: str, timeout_s: float) -> str:
        process = await asyncio.create_subprocess_exec(
            *self._argv(*command), env={**self._docker, **self.env}, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            process.kill()
            await process.wait()
            raise
        text = output.decode(errors="replace")
        if process.returncode != 0:
            raise StackError(f"docker compose {' '.join(command)} (project {self.name}) exited "
                             f"{process.returncode}: {text[-OUTPUT_TAIL:].strip()}")
        return text

    async def up(self, timeout_s: float) -> None:
        await self._compose("up", "-d", "--wait", "--wait-timeout", str(round(timeout_s)),
                            timeout_s=timeout_s + 30)

    async def save_logs(self) -> None:
        if self.logs_dir is None:
            return
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        text = await self._compose("logs", "--no-color", "--timestamps", timeout_s=60)
        (self.logs_dir / "compose.log").write_text(text, encoding="utf-8")

    async def down(self) -> None:
        await self._compose("down", "-v", "--remove-orphans", "--timeout", "5", timeout_s=300)

    # -- the record the next run reaps by --------------------------------------------------------
    def record(self, reports_root: Path) -> Path:
        path = reports_root / RECORDS / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "project": self.name, "files": [str(f) for f in self.files], "profiles": list(self.profiles),
            "harness": {"pid": os.getpid(), "start_ticks": process_start_ticks(os.getpid())}}))
        return path


def reap_compose_projects(reports_root: Path, timeout_s: float = 300) -> list[str]:
    """Take down (with volumes) the projects of runs whose harness is gone: only those a record in
    this reports root names, under a name this module gives (``gd-…``)."""
    reaped = []
    for path in sorted((reports_root / RECORDS).glob("gd-*.json")):
        try:
            record = json.loads(path.read_text())
            harness, name = record["harness"], str(record["project"])
            files: Sequence[str] = record["files"]
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if name != path.stem or alive_as_recorded(int(harness.get("pid", 0)), harness.get("start_ticks")):
            continue
        argv = ["docker", "compose", *(arg for f in files for arg in ("-f", f)), "-p", name,
                "down", "-v", "--remove-orphans", "--timeout", "1"]
        try:
            subprocess.run(argv, env=docker_env(), capture_output=True, timeout=timeout_s, check=True)
        except (OSError, subprocess.SubprocessError):
            continue  # the engine is away: try again next run
        path.unlink(missing_ok=True)
        reaped.append(name)
    return reaped
