"""A real primary and replica (issue 15): starting them changes the mode of no directory the harness
did not make, even under pytest's 0700 directories, and neither accepts a connection without the
run's password."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import asyncpg
import pytest

from gameday.stack.pg_dirs import BASES
from gameday.stack.postgres import (
    ensure_postgres_template,
    start_postgres,
    start_replica,
    wal_receiver_status,
)
from tests.integration.test_postgres_replica import Processes, fetch_rows

pytestmark = pytest.mark.integration


def _modes(paths: list[Path]) -> dict[Path, int]:
    """Each directory's mode, and those of every directory above it."""
    every = {directory for path in paths for directory in (path, *path.parents)}
    return {directory: stat.S_IMODE(directory.stat().st_mode) for directory in sorted(every)}


@pytest.mark.skipif(os.geteuid() != 0, reason="not root: Postgres runs as the harness's own user")
async def test_starting_postgres_changes_no_directory_the_harness_did_not_make(tmp_path: Path) -> None:
    assert stat.S_IMODE(tmp_path.parent.stat().st_mode) == 0o700  # pytest's: closed to the server user
    watched = [tmp_path, *(base for base in BASES if base.exists())]
    before = _modes(watched)
    processes = Processes()
    try:
        template = ensure_postgres_template(tmp_path / "cache")  # a first initdb, as the server user
        primary = await start_postgres(tmp_path / "run" / "pgdata", template, tmp_path / "pg.log",
                                       processes.track)
        replica = await start_replica(primary, tmp_path / "run" / "pgdata-replica", tmp_path / "replica.log",
                                      processes.track)
        assert await wal_receiver_status(replica.dsn) == "streaming"
        [row] = await fetch_rows(primary.dsn, "SELECT current_setting('data_directory') AS data")
        assert Path(row["data"]) == (tmp_path / "run" / "pgdata").resolve()
    finally:
        await processes.stop_all()
    assert _modes(watched) == before
    assert not list(tmp_path.parent.glob(".building-*"))


async def test_the_run_password_is_required_of_every_connection(tmp_path: Path) -> None:
    processes = Processes()
    try:
        template = ensure_postgres_template(tmp_path / "cache")
        primary = await start_postgres(tmp_path / "pgdata", template, tmp_path / "pg.log", processes.track,
                                       password="the-run-s-password")
        replica = await start_replica(primary, tmp_path / "pgdata-replica", tmp_path / "replica.log",
                                      processes.track)
        for server in (primary, replica):
            for wrong in ("", "wrong"):
                refused = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError,
                           asyncpg.ClientConfigurationError)
                with pytest.raises(refused):
                    await asyncpg.connect(host="127.0.0.1", port=server.port, user="postgres", password=wrong,
                                          database="postgres", timeout=5)
            assert "the-run-s-password" in server.dsn
            assert "the-run-s-password" not in repr(server)
        rules = await fetch_rows(primary.dsn, "SELECT type, database, user_name, address, auth_method "
                                              "FROM pg_hba_file_rules ORDER BY rule_number")
        assert [tuple(rule.values()) for rule in rules] == [
            ("host", ["all"], ["postgres"], "127.0.0.1", "scram-sha-256"),
            ("host", ["replication"], ["postgres"], "127.0.0.1", "scram-sha-256")]
        [sockets] = await fetch_rows(primary.dsn, "SHOW unix_socket_directories")
        assert sockets["unix_socket_directories"] == ""
        [streaming] = await fetch_rows(replica.dsn, "SELECT status, conninfo FROM pg_stat_wal_receiver")
        assert streaming["status"] == "streaming"
        assert "the-run-s-password" not in streaming["conninfo"]
    finally:
        await processes.stop_all()
    log = (tmp_path / "pg.log").read_text() + (tmp_path / "replica.log").read_text()
    assert "the-run-s-password" not in log
