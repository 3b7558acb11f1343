"""A Postgres server killed with SIGKILL leaves no shared memory behind once the harness stops it:
its dynamic segments live in its data directory, and its System V segment is released."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from gameday.stack.postgres import ensure_postgres_template, signal_with_children, start_postgres
from gameday.stack.process import ManagedProcess
from gameday.stack.sysv_shm import SYSV_SHM_TABLE, parse_segments
from tests.integration.test_postgres_replica import fetch_rows

pytestmark = pytest.mark.integration


def _segments_of(pid: int) -> list[int]:
    return [s.shmid for s in parse_segments(SYSV_SHM_TABLE.read_text()) if s.creator_pid == pid]


async def test_a_sigkilled_postgres_leaves_no_shared_memory(tmp_path: Path) -> None:
    started: list[ManagedProcess] = []
    template = ensure_postgres_template(tmp_path / "cache")
    service = await start_postgres(tmp_path / "data", template, tmp_path / "pg.log", started.append)
    try:
        [row] = await fetch_rows(service.dsn, "SHOW dynamic_shared_memory_type")
        assert row["dynamic_shared_memory_type"] == "mmap"
        pid = service.process.pid
        assert _segments_of(pid), "a running postmaster holds a System V segment"

        signal_with_children(service.process, signal.SIGKILL)
        await service.process.stop()

        assert _segments_of(pid) == []
    finally:
        for process in started:
            await process.stop()
