"""How each kind of service is started on loopback and judged ready (Postgres: ``postgres.py``).

One function per service kind; each returns a running, ready ``ManagedProcess`` (plus the
addresses it serves) or raises ``ServiceStartError`` with the tail of the service's log.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from gameday.stack.errors import ServiceStartError
from gameday.stack.launcher import current_launcher
from gameday.stack.process import (
    ManagedProcess,
    ProcessSpec,
    SpawnHook,
    start_process,
    wait_until,
)


def venv_bin(name: str) -> Path:
    return Path(sys.executable).parent / name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def http_ok(session: aiohttp.ClientSession, url: str, timeout_s: float = 1.0) -> bool:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
        return response.status == 200


# --- NATS -------------------------------------------------------------------------------------


@dataclass
class NatsService:
    process: ManagedProcess
    url: str
    monitor_url: str


async def start_nats(
    workdir: Path, session: aiohttp.ClientSession, on_spawn: SpawnHook, timeout_s: float = 10.0
) -> NatsService:
    workdir.mkdir(parents=True, exist_ok=True)
    ports_dir = workdir / "ports"
    ports_dir.mkdir(exist_ok=True)
    log_path = workdir.parent / "nats.log"
    spec = ProcessSpec(
        name="nats",
        argv=[str(venv_bin("nats-server")), "-js", "-a", "127.0.0.1", "-p", "-1", "-m", "-1",
              "--ports_file_dir", str(ports_dir), "-sd", str(workdir / "jetstream")],
        log_path=log_path,
    )
    process = await start_process(spec, on_spawn=on_spawn)
    ports_file = ports_dir / f"nats-server_{process.pid}.ports"

    ports: dict[str, Any] = {}

    async def ports_written() -> bool:  # the file can be read half-written, or before every listener is up
        try:
            ports.update(json.loads(ports_file.read_text()))
        except (OSError, ValueError):
            return False
        return bool(ports.get("nats")) and bool(ports.get("monitoring"))

    await wait_until("nats", ports_written, timeout_s=timeout_s, log_path=log_path, process=process)
    service = NatsService(process=process, url=ports["nats"][0], monitor_url=ports["monitoring"][0])
    process.ports = {"client": int(service.url.rsplit(":", 1)[1]),
                     "monitor": int(service.monitor_url.rsplit(":", 1)[1])}

    async def jetstream_healthy() -> bool:
        return await http_ok(session, f"{service.monitor_url}/healthz?js-enabled-only=true")

    await wait_until("nats", jetstream_healthy, timeout_s=timeout_s, log_path=log_path, process=process)
    return service


# --- Python services (venue, OMS, failover daemon, fault proxy) --------------------------------


async def start_python_service(
    name: str,
    module: str,
    args: list[str],
    log_path: Path,
    *,
    ready_url: str | None,
    session: aiohttp.ClientSession,
    on_spawn: SpawnHook,
    timeout_s: float = 20.0,
) -> ManagedProcess:
    """Start ``python -m module args`` (forked by the stack's launcher when there is one); wait for its
    READY line, then for ``ready_url`` (``{port}`` is replaced by the first announced port) to answer 200."""
    spec = ProcessSpec(name=name, argv=[sys.executable, "-m", module, *args], log_path=log_path,
                       ready_line=True)
    process = await start_process(spec, on_spawn=on_spawn, ready_timeout_s=timeout_s,
                                  launcher=current_launcher())
    if ready_url is not None:
        url = ready_url.format(**process.ports)

        async def ready() -> bool:
            return await http_ok(session, url)

        try:
            await wait_until(name, ready, timeout_s=timeout_s, log_path=log_path, process=process)
        except ServiceStartError:
            await process.stop()
            raise
    return process


def write_config(path: Path, config_json: str) -> Path:
    """A service's configuration, readable by the run's owner only (it holds the run's admin token)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as config:
        os.fchmod(config.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        config.write(config_json)
    return path
