"""Keeps the breaker's trip in the database for the :class:`~trading_stack.breaker_runtime.BreakerRuntime`
(docs/deploy.md §2.6): every trip is stored, a re-arm is stored before it takes effect, and what is in
force is read before an instance becomes active and polled while it is.

A trip the database could not take is retried in the background until stored (alert
``TripNotPersisted`` once); the trip itself takes effect at once either way. Defect
``kill-switch-in-memory``: the OMS has no keeper, a trip lives and dies with one process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

import asyncpg

from trading_stack.deploy.breaker import Trip
from trading_stack.pg_connect import PrimaryPolicy
from trading_stack.trip_store import PersistedTrip, clear_trip, load_trip, save_trip

__all__ = ["DB_ERRORS", "TRIP_NOT_PERSISTED", "TRIP_POLL_S", "TripKeeper", "TripRecords"]

log = logging.getLogger(__name__)

TRIP_NOT_PERSISTED = "TripNotPersisted"
DB_TIMEOUT_S = 3.0
RECORD_RETRY_S = 0.5
TRIP_POLL_S = 1.0
"""How soon an active instance that did not trip learns of a trip (or a re-arm) made elsewhere; an
instance becoming active reads it before its first order whatever this is."""
DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

Alert = Callable[[str, Mapping[str, Any]], None]
Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class TripRecords(Protocol):
    """Where the breaker's trips are kept (:class:`TripKeeper`: Postgres)."""

    @property
    def generation(self) -> int: ...

    def stored(self, trip: Trip, instance: str | None = None) -> bool: ...

    def adopted(self, persisted: PersistedTrip) -> None: ...

    async def record(self, trip: Trip) -> bool: ...

    async def clear(self, operator: str) -> int: ...

    async def in_force(self) -> PersistedTrip | None: ...


class TripKeeper:
    def __init__(self, dsn: str, instance: str, alert: Alert, spawn: Spawn, connect_timeout_s: float = 1.0
                 ) -> None:
        self.instance = instance
        self._dsn = dsn
        self._alert = alert
        self._spawn = spawn
        self._policy = PrimaryPolicy(connect_timeout_s=connect_timeout_s, deadline_s=DB_TIMEOUT_S)
        self._stored: tuple[str, int] | None = None
        self.generation = 0
        """Bumped by every re-arm: a read that began before one is stale."""

    def stored(self, trip: Trip, instance: str | None = None) -> bool:
        """Whether ``trip`` (tripped by ``instance``, default this one) is known to be in the database."""
        return self._stored == (instance or self.instance, trip.t_ns)

    def adopted(self, persisted: PersistedTrip) -> None:
        self._stored = persisted.key

    async def record(self, trip: Trip) -> bool:
        """Store ``trip``; False (alerted, retried in the background) when the database did not take it."""
        try:
            await save_trip(self._dsn, self.instance, trip, DB_TIMEOUT_S)
        except DB_ERRORS as err:
            log.error("trip not persisted (retrying): %s: %s", type(err).__name__, err)
            error = f"{type(err).__name__}: {err}"
            self._alert(TRIP_NOT_PERSISTED, {"reason": trip.reason.value, "error": error})
            self._spawn(self._record_until_stored(trip, self.generation), "trip-record")
            return False
        self._stored = (self.instance, trip.t_ns)
        return True

    async def _record_until_stored(self, trip: Trip, generation: int) -> None:
        while self.generation == generation:
            await asyncio.sleep(RECORD_RETRY_S)
            try:
                await save_trip(self._dsn, self.instance, trip, DB_TIMEOUT_S)
            except DB_ERRORS as err:
                log.warning("trip still not persisted: %s", err)
                continue
            if self.generation == generation:
                self._stored = (self.instance, trip.t_ns)
                log.info("trip persisted")
            return

    async def clear(self, operator: str) -> int:
        """Mark the trips in force re-armed by ``operator`` (raises ``DB_ERRORS``); how many there were."""
        self.generation += 1  # first: a background retry of the trip must not store it again
        cleared = await clear_trip(self._dsn, operator, DB_TIMEOUT_S)
        self._stored = None
        return cleared

    async def in_force(self) -> PersistedTrip | None:
        """The trip the database holds in force (raises ``DB_ERRORS``)."""
        return await load_trip(self._dsn, self._policy)
