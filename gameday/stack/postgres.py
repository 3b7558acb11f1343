"""Postgres on loopback: a primary, and a streaming replica made from it with ``pg_basebackup``.

The primary runs from a copy of a cached ``initdb`` template (cold start: a copy, not initdb;
the template, the copies and who owns them are :mod:`gameday.stack.pg_cluster`).
The replica is a base backup of the running primary (``-R``: it starts as a hot standby that
streams from the primary over a physical replication slot). Once the replica streams, the
primary commits synchronously to it (``remote_write``), so a commit the primary acknowledged
survives the primary's death: that is what lets a promoted replica lose no fill.

Each primary has a password of its own (the run's), required of every connection
(:mod:`gameday.stack.pg_auth`); its replica shares it. As root, every Postgres process runs as the
system user ``embedded_postgres``, and its files go where that user can reach them without any
directory being widened (:mod:`gameday.stack.pg_dirs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import asyncpg
import psutil

from gameday.stack.errors import ServiceStartError
from gameday.stack.pg_auth import new_password, set_password
from gameday.stack.pg_cluster import (
    POSTGRES_SYSTEM_USER,
    chown_for_postgres,
    copy_template,
    ensure_postgres_template,
    place_empty_data_dir,
    postgres_bin,
    server_user,
)
from gameday.stack.process import (
    ManagedProcess,
    ProcessSpec,
    SpawnHook,
    log_tail,
    start_process,
    wait_until,
)
from gameday.stack.services import free_port

T = TypeVar("T")

__all__ = [
    "POSTGRES_SYSTEM_USER",
    "REPLICATION_SLOT",
    "DatabasePair",
    "PostgresService",
    "chown_for_postgres",
    "enable_synchronous_commit",
    "ensure_postgres_template",
    "postgres_bin",
    "read_write_dsn",
    "signal_with_children",
    "start_database_pair",
    "start_postgres",
    "start_replica",
    "wal_receiver_status",
]

REPLICATION_SLOT = "replica"
_SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "50",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "max_replication_slots": "5",
    "hot_standby": "on",
    "wal_receiver_status_interval": "1s",
    # dynamic segments as files in the data directory (removed with the run), not in /dev/shm where a
    # SIGKILLed server leaves them for good
    "dynamic_shared_memory_type": "mmap",
}


@dataclass
class PostgresService:
    process: ManagedProcess
    port: int
    password: str = field(default="", repr=False)  # the run's; every connection needs it

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def dsn(self) -> str:
        return f"postgresql://{_userinfo('postgres', self.password)}@{self.address}/postgres"


def _userinfo(user: str, password: str | None) -> str:
    return f"{user}:{quote(password, safe='')}" if password else user


def signal_with_children(process: ManagedProcess, sig: signal.Signals) -> None:
    """Signal a service's process group and every process it forked that left the group.

    Postgres server processes each lead their own session: signalling the postmaster's group
    alone would leave backends committing for a moment after a kill, and serving through a pause.
    """
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        children = []
    process.signal(sig)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.send_signal(sig)


# --- the primary -------------------------------------------------------------------------------


async def finished_in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function`` in a worker thread, waited for to the end even when the caller is cancelled: a
    thread cannot be stopped, and cleaning up while it still writes (a data directory being
    copied) would leave its files behind."""
    work = asyncio.ensure_future(asyncio.to_thread(function, *args, **kwargs))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        raise


async def _can_connect(dsn: str) -> bool:
    connection = await asyncpg.connect(dsn, timeout=1.0)
    await connection.close()
    return True


async def _start_server(
    name: str, data_dir: Path, log_path: Path, on_spawn: SpawnHook, timeout_s: float, password: str,
    attempts: int = 3,
) -> PostgresService:
    """Run ``postgres`` on ``data_dir`` on a free port until it accepts connections."""
    last_error: ServiceStartError | None = None
    for _ in range(attempts):  # a free port can be taken between probing and binding
        port = free_port()
        settings = [arg for key, value in _SERVER_SETTINGS.items() for arg in ("-c", f"{key}={value}")]
        spec = ProcessSpec(
            name=name,
            argv=[str(postgres_bin("postgres")), "-D", str(data_dir), "-p", str(port), *settings],
            log_path=log_path,
            user=server_user(),
            stop_signal=signal.SIGINT,  # fast shutdown
            releases_sysv_shm=True,  # a SIGKILLed postmaster leaves its System V segment
        )
        process = await start_process(spec, on_spawn=on_spawn)
        process.ports = {"postgres": port}
        service = PostgresService(process=process, port=port, password=password)
        try:
            await wait_until(name, functools.partial(_can_connect, service.dsn), timeout_s=timeout_s,
                             log_path=log_path, process=process)
            return service
        except ServiceStartError as error:
            await process.stop()
            last_error = error
            if "could not bind" not in log_tail(log_path):
                raise
    assert last_error is not None
    raise last_error


async def start_postgres(
    data_dir: Path, template: Path, log_path: Path, on_spawn: SpawnHook,
    timeout_s: float = 15.0, name: str = "postgres", password: str | None = None,
) -> PostgresService:
    """A primary on a copy of ``template``, ready to serve and to stream to replicas; every connection
    needs ``password`` (default: a new random one, in the service's DSN)."""
    password = password or new_password()
    placed = await finished_in_thread(copy_template, template, data_dir)
    await set_password(postgres_bin("postgres"), placed, password, log_path, user=server_user(),
                       timeout_s=timeout_s, name=name)
    return await _start_server(name, placed, log_path, on_spawn, timeout_s, password)


# --- the replica -------------------------------------------------------------------------------


async def _base_backup(primary: PostgresService, data_dir: Path, log_path: Path, timeout_s: float) -> Path:
    """``pg_basebackup -R`` of the running primary into ``data_dir``, creating the slot; where the
    data went. The password reaches it in its environment (never its command line), and ``-R`` writes
    it into the replica's ``primary_conninfo`` (its ``postgresql.auto.conf``, 0600 in a 0700 directory)."""
    placed = await finished_in_thread(place_empty_data_dir, data_dir)
    spec = ProcessSpec(
        name="pg_basebackup",
        argv=[str(postgres_bin("pg_basebackup")), "-h", "127.0.0.1", "-p", str(primary.port),
              "-U", "postgres", "-D", str(placed), "-R", "-X", "stream", "-C", "-S", REPLICATION_SLOT,
              "--checkpoint=fast", "--no-sync", "--no-password"],
        log_path=log_path,
        user=server_user(),
        env={**os.environ, "PGPASSWORD": primary.password},
    )
    # a tool, not a service: stopped here however this ends, and it dies with a SIGKILLed harness
    process = await start_process(spec, on_spawn=lambda _process: None)
    try:
        code = await asyncio.wait_for(process.proc.wait(), timeout_s)
    except TimeoutError:
        raise ServiceStartError("postgres-replica", f"pg_basebackup did not finish in {timeout_s:.0f}s",
                                log_tail(log_path)) from None
    finally:
        await process.stop()
    if code != 0:
        raise ServiceStartError("postgres-replica", f"pg_basebackup exited with code {code}",
                                log_tail(log_path))
    return placed


async def wal_receiver_status(dsn: str) -> str | None:
    """The replica's WAL receiver status (``streaming`` when caught on), ``None`` when not in recovery."""
    connection = await asyncpg.connect(dsn, timeout=1.0)
    try:
        if not await connection.fetchval("SELECT pg_is_in_recovery()"):
            return None
        status: str | None = await connection.fetchval("SELECT status FROM pg_stat_wal_receiver")
        return status
    finally:
        await connection.close()


async def enable_synchronous_commit(primary: PostgresService) -> None:
    """Every commit on the primary waits until a standby has written its WAL."""
    connection = await asyncpg.connect(primary.dsn, timeout=5.0)
    try:
        await connection.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        await connection.execute("ALTER SYSTEM SET synchronous_commit = 'remote_write'")
        await connection.execute("SELECT pg_reload_conf()")
    finally:
        await connection.close()


async def start_replica(
    primary: PostgresService, data_dir: Path, log_path: Path, on_spawn: SpawnHook,
    timeout_s: float = 15.0, name: str = "postgres-replica",
) -> PostgresService:
    """A hot standby of ``primary``, ready once it is in recovery and its WAL receiver streams;
    the primary then commits synchronously to it."""
    placed = await _base_backup(primary, data_dir, log_path, timeout_s)
    replica = await _start_server(name, placed, log_path, on_spawn, timeout_s, primary.password)

    async def streaming() -> bool:
        return await wal_receiver_status(replica.dsn) == "streaming"

    try:
        await wait_until(name, streaming, timeout_s=timeout_s, log_path=log_path, process=replica.process)
    except ServiceStartError:
        await replica.process.stop()
        raise
    await enable_synchronous_commit(primary)
    return replica


def read_write_dsn(addresses: list[str], user: str = "postgres", database: str = "postgres",
                   password: str | None = None) -> str:
    """A multi-host DSN that connects to whichever of ``addresses`` (``host:port``) is the primary."""
    return (f"postgresql://{_userinfo(user, password)}@{','.join(addresses)}/{database}"
            f"?target_session_attrs=read-write")


# --- the pair and its failover daemon ----------------------------------------------------------


@dataclass
class DatabasePair:
    primary: PostgresService
    replica: PostgresService

    @property
    def dsn(self) -> str:
        """Connects to whichever of the two is the primary now."""
        return read_write_dsn([self.primary.address, self.replica.address], password=self.primary.password)


async def start_database_pair(
    scratch: Path, logs: Path, template: Path, on_spawn: SpawnHook, timeout_s: float = 15.0,
    password: str | None = None,
) -> DatabasePair:
    """The primary ``postgres`` and its streaming replica ``postgres-replica``, both requiring
    ``password`` (default: a new random one)."""
    primary = await start_postgres(scratch / "pgdata", template, logs / "postgres.log", on_spawn, timeout_s,
                                   password=password)
    replica = await start_replica(primary, scratch / "pgdata-replica", logs / "postgres-replica.log",
                                  on_spawn, timeout_s)
    return DatabasePair(primary, replica)
