"""One real Postgres primary on loopback for a test, from a template made once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from gameday.stack.postgres import PostgresService, ensure_postgres_template, start_postgres
from tests.integration.test_postgres_replica import Processes


@pytest.fixture(scope="session")
def pg_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_postgres_template(tmp_path_factory.getbasetemp() / "pg-cache")


@asynccontextmanager
async def postgres(workdir: Path, template: Path) -> AsyncIterator[PostgresService]:
    processes = Processes()
    try:
        yield await start_postgres(workdir / "pgdata", template, workdir / "postgres.log", processes.track)
    finally:
        await processes.stop_all()
