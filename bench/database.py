"""What the streaming replica costs: start-up (primary alone vs primary + replica, alternated) and
the commit latency the OMS store pays for synchronous replication (one-row commits, local vs
remote_write, alternated on the same pair).

``python -m bench.database --repeat 5`` (JSON lines, like ``python -m bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench.machine import machine
from gameday.stack.postgres import ensure_postgres_template, start_database_pair, start_postgres
from gameday.stack.process import ManagedProcess

COMMITS = 2000


async def _timed_start(root: Path, template: Path, with_replica: bool) -> float:
    started: list[ManagedProcess] = []
    begin = time.monotonic()
    try:
        if with_replica:
            await start_database_pair(root, root, template, started.append)
        else:
            await start_postgres(root / "pgdata", template, root / "postgres.log", started.append)
        return time.monotonic() - begin
    finally:
        for process in reversed(started):
            await process.stop()


async def _commit_latencies_us(dsn: str, commits: int) -> dict[str, list[float]]:
    """Per-commit latency with and without waiting for the standby, alternated commit by commit."""
    local, remote = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        await local.execute("SET synchronous_commit = local")
        await local.execute("CREATE TABLE bench (n BIGINT PRIMARY KEY)")
        samples: dict[str, list[float]] = {"local": [], "remote_write": []}
        for n in range(commits):
            for name, connection in (("local", local), ("remote_write", remote)):
                begin = time.perf_counter_ns()
                await connection.execute("INSERT INTO bench VALUES ($1)", n * 2 + (name == "local"))
                samples[name].append((time.perf_counter_ns() - begin) / 1000)
        return samples
    finally:
        await local.close()
        await remote.close()


def _summary(values: list[float], digits: int) -> dict[str, Any]:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "runs": len(values)}


async def main(repeat: int) -> list[dict[str, Any]]:
    alone: list[float] = []
    pair: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-db-") as directory:
        root = Path(directory)
        template = ensure_postgres_template(root / ".cache")
        for attempt in range(repeat):
            alone.append(await _timed_start(root / f"alone-{attempt}", template, with_replica=False))
            pair.append(await _timed_start(root / f"pair-{attempt}", template, with_replica=True))
        started: list[ManagedProcess] = []
        try:
            commits_dir = root / "commits"
            databases = await start_database_pair(commits_dir, commits_dir, template, started.append)
            latencies = await _commit_latencies_us(databases.primary.dsn, COMMITS)
        finally:
            for process in reversed(started):
                await process.stop()
    host = machine()
    local_us, remote_us = (statistics.median(latencies[name]) for name in ("local", "remote_write"))
    return [
        {"figure": "Postgres primary alone, start to accepting connections (s)", **_summary(alone, 3),
         **host},
        {"figure": "primary + streaming replica (base backup, replica streaming, sync on) (s)",
         **_summary(pair, 3), "ratio_to_alone": round(statistics.median(pair) / statistics.median(alone), 2),
         **host},
        {"figure": "one-row commit latency, synchronous_commit local vs remote_write (us)",
         "local_median": round(local_us, 1), "remote_write_median": round(remote_us, 1),
         "ratio": round(remote_us / local_us, 2), "commits_each": COMMITS, **host},
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.database")
    parser.add_argument("--repeat", type=int, default=5)
    for figure in asyncio.run(main(parser.parse_args().repeat)):
        print(json.dumps({"bench": "database", **figure}), flush=True)
