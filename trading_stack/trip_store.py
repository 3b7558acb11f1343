"""The circuit breaker's trip in Postgres, so that every OMS instance honours it (seed 003: kill
switches "operate independently of the main trading logic, making them resilient to core system
failures").

One row per trip in ``oms_breaker_trips``; the trip in force is the one not yet re-armed. A trip is
written by the instance that tripped (the kill switch, a PnL limit), read by every instance before it
becomes active and, while active, polled; a re-arm marks it re-armed. Short-lived connections of
their own to the writable primary (as :mod:`trading_stack.db_sync`), so they work whatever the
order-path store is doing.
"""

from __future__ import annotations

import json

import asyncpg
from pydantic import BaseModel, ConfigDict

from trading_stack.deploy.breaker import Trip
from trading_stack.pg_connect import PrimaryPolicy, on_primary

__all__ = ["PersistedTrip", "clear_trip", "load_trip", "save_trip"]

TRIPS_SCHEMA = """
CREATE TABLE IF NOT EXISTS oms_breaker_trips (
    instance TEXT NOT NULL,
    t_ns BIGINT NOT NULL,
    reason TEXT NOT NULL,
    operator TEXT,
    trip JSONB NOT NULL,
    tripped_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    rearmed_by TEXT,
    rearmed_at TIMESTAMPTZ,
    PRIMARY KEY (instance, t_ns)
)
"""
SAVE = """
INSERT INTO oms_breaker_trips (instance, t_ns, reason, operator, trip) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (instance, t_ns) DO NOTHING
"""
IN_FORCE = """
SELECT instance, trip FROM oms_breaker_trips WHERE rearmed_at IS NULL ORDER BY t_ns, instance LIMIT 1
"""
REARM = """
UPDATE oms_breaker_trips SET rearmed_by = $1, rearmed_at = clock_timestamp() WHERE rearmed_at IS NULL
"""


class PersistedTrip(BaseModel):
    """A trip in force as the database holds it: which instance tripped, and the trip."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: str
    trip: Trip

    @property
    def key(self) -> tuple[str, int]:
        return self.instance, self.trip.t_ns


async def save_trip(dsn: str, instance: str, trip: Trip, timeout_s: float) -> None:
    """Store ``trip`` (idempotent: a retry of a stored trip changes nothing)."""

    async def save(connection: asyncpg.Connection) -> None:
        await connection.execute(TRIPS_SCHEMA)
        await connection.execute(SAVE, instance, trip.t_ns, trip.reason.value, trip.operator,
                                 trip.model_dump_json())

    await on_primary(dsn, save, PrimaryPolicy(deadline_s=timeout_s))


async def load_trip(dsn: str, policy: PrimaryPolicy) -> PersistedTrip | None:
    """The trip in force (the earliest not re-armed), or None."""

    async def in_force(connection: asyncpg.Connection) -> asyncpg.Record | None:
        if not await connection.fetchval("SELECT to_regclass('oms_breaker_trips') IS NOT NULL"):
            return None
        record: asyncpg.Record | None = await connection.fetchrow(IN_FORCE)
        return record

    row = await on_primary(dsn, in_force, policy)
    if row is None:
        return None
    return PersistedTrip(instance=row["instance"], trip=Trip.model_validate(json.loads(row["trip"])))


async def clear_trip(dsn: str, operator: str, timeout_s: float) -> int:
    """Mark every trip in force re-armed by ``operator``; how many there were."""

    async def rearm(connection: asyncpg.Connection) -> int:
        await connection.execute(TRIPS_SCHEMA)
        status: str = await connection.execute(REARM, operator)
        return int(status.split()[-1])

    return await on_primary(dsn, rearm, PrimaryPolicy(deadline_s=timeout_s))
