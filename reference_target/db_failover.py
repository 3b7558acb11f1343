"""The reference stack's database failover daemon, started next to the databases."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from gameday.stack.postgres import DatabasePair
from gameday.stack.process import ManagedProcess, SpawnHook
from gameday.stack.services import start_python_service, write_config
from trading_stack.config import DbFailoverConfig


async def start_db_failover(
    pair: DatabasePair, nats_url: str, logs: Path, session: aiohttp.ClientSession, on_spawn: SpawnHook,
    timeout_s: float = 20.0,
) -> ManagedProcess:
    """The ``db-failover`` daemon, next to the databases (no fault proxy between them)."""
    config = DbFailoverConfig(http_port=0, primary_dsn=pair.primary.dsn, replica_dsn=pair.replica.dsn,
                              nats_url=nats_url)
    path = write_config(logs / "db-failover.json", config.model_dump_json(indent=1))
    return await start_python_service(
        "db-failover", "trading_stack.db_failover", ["--config", str(path)], logs / "db-failover.log",
        ready_url="http://127.0.0.1:{http}/health", session=session, on_spawn=on_spawn, timeout_s=timeout_s,
    )
