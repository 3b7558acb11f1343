"""A real primary and a streaming replica made from it: what the primary commits shows on the
replica, the replica refuses writes, and the primary commits synchronously to it.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from gameday.stack.postgres import (
    REPLICATION_SLOT,
    PostgresService,
    ensure_postgres_template,
    start_postgres,
    start_replica,
    wal_receiver_status,
)
from gameday.stack.process import ManagedProcess
from tests.integration.processes import alive
from tests.integration.test_oms_support import wait_until

pytestmark = pytest.mark.integration

@dataclass
class Processes:
    """Every process a test started, stopped in reverse order whatever happens."""

    started: list[ManagedProcess] = field(default_factory=list)

    def track(self, process: ManagedProcess) -> None:
        self.started.append(process)

    async def stop_all(self) -> None:
        for process in reversed(self.started):
            await process.stop()


@dataclass
class ReplicatedPostgres:
    primary: PostgresService
    replica: PostgresService
    processes: Processes


@asynccontextmanager
async def replicated_postgres(workdir: Path) -> AsyncIterator[ReplicatedPostgres]:
    """A primary and its streaming replica on loopback, both stopped when the block ends."""
    processes = Processes()
    try:
        template = ensure_postgres_template(workdir / "cache")
        track = processes.track
        primary = await start_postgres(workdir / "primary", template, workdir / "primary.log", track)
        replica = await start_replica(primary, workdir / "replica", workdir / "replica.log", track)
        yield ReplicatedPostgres(primary, replica, processes)
    finally:
        await processes.stop_all()


async def fetch_rows(dsn: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn, timeout=2.0)
    try:
        return list(await connection.fetch(query))
    finally:
        await connection.close()


async def test_a_row_written_on_the_primary_becomes_visible_on_the_replica(tmp_path: Path) -> None:
    async with replicated_postgres(tmp_path) as pair:
        assert await wal_receiver_status(pair.replica.dsn) == "streaming"
        assert await wal_receiver_status(pair.primary.dsn) is None
        connection = await asyncpg.connect(pair.primary.dsn)
        try:
            await connection.execute("CREATE TABLE fills (exec_id TEXT PRIMARY KEY)")
            await connection.execute("INSERT INTO fills VALUES ('E1'), ('E2')")
        finally:
            await connection.close()

        async def replicated() -> bool:
            try:
                rows = await fetch_rows(pair.replica.dsn, "SELECT exec_id FROM fills ORDER BY exec_id")
            except asyncpg.UndefinedTableError:
                return False
            return [row["exec_id"] for row in rows] == ["E1", "E2"]

        await wait_until(replicated, 10.0, "the rows on the replica")


async def test_the_replica_refuses_writes_and_the_primary_commits_synchronously(tmp_path: Path) -> None:
    async with replicated_postgres(tmp_path) as pair:
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await fetch_rows(pair.replica.dsn, "CREATE TABLE t (x INT)")
        [standby] = await fetch_rows(pair.primary.dsn,
                                     "SELECT state, sync_state FROM pg_stat_replication")
        assert (standby["state"], standby["sync_state"]) == ("streaming", "sync")
        [slot] = await fetch_rows(pair.primary.dsn,
                                  "SELECT slot_name, slot_type, active FROM pg_replication_slots")
        assert (slot["slot_name"], slot["slot_type"], slot["active"]) == (REPLICATION_SLOT, "physical", True)


async def test_every_postgres_process_is_stopped_at_the_end(tmp_path: Path) -> None:
    async with replicated_postgres(tmp_path) as pair:
        pids = [process.pid for process in pair.processes.started]
        assert [process.spec.name for process in pair.processes.started] == ["postgres", "postgres-replica"]
        pair.primary.process.signal(signal.SIGKILL)  # one died already: the other is still stopped
    assert [pid for pid in pids if alive(pid)] == []
