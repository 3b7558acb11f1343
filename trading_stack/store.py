"""Postgres persistence of orders and fills (asyncpg), buffered, batched and self-healing.

Writes are queued and applied in order by one task that connects with retry and reconnects on
failure, so a database outage never blocks the order path. Whatever is queued when the writer
gets to it goes in one statement (up to ``batch_max`` rows: :mod:`trading_stack.store_batch`),
so a slow database hop costs a round trip per batch, not per row. Inserts are idempotent
(orders keyed by ``cl_ord_id`` upserted, fills keyed by ``exec_id``), and a row leaves the queue
only once the database acknowledged its batch, so none is lost across a reconnect.

The backlog is visible (:meth:`Store.backlog_stats`: queued rows, the oldest one's age, rows
written, rows dropped at close), in ``/health/deep`` and on NATS (:func:`publish_backlog`).
:meth:`Store.close` flushes within a bound and counts what was left unwritten, for the alert.

The DSN may list several hosts (the primary, then its replica): each connect asks them in
order, each with its own bound (:mod:`trading_stack.pg_connect`), for a read-write session, so
a reconnect lands on whichever is the primary now (how the store follows a promoted replica)
even while a frozen first host never answers. ``reconnect=False`` reproduces the
``no-db-reconnect`` defect: after the first lost connection the store never connects again,
its writes stay queued, and the OMS trades on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from trading_stack.models import Fill, Order
from trading_stack.order_log import log_stored
from trading_stack.pg_connect import PrimaryPolicy, connect_primary
from trading_stack.store_batch import SCHEMA, WRITE_BATCH, Row, batch_columns, fill_row, order_row

__all__ = ["STORE_ROWS_NOT_WRITTEN", "DbConnection", "Store", "StoreBacklog", "publish_backlog",
           "worth_publishing"]

log = logging.getLogger(__name__)

STORE_ROWS_NOT_WRITTEN = "StoreRowsNotWritten"
BATCH_MAX = 1000
CONNECT_TIMEOUT_S = 1.0  # per host of the DSN (the last host gets what is left of the timeout)
BACKLOG_PUBLISH_INTERVAL_S = 1.0


class DbConnection(Protocol):
    """The part of an ``asyncpg.Connection`` the store uses (a seam for tests)."""

    async def execute(self, query: str, *args: Any) -> Any: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    def terminate(self) -> None: ...


Connect = Callable[[str], Awaitable[DbConnection]]


def asyncpg_connect(timeout_s: float) -> Connect:
    async def connect(dsn: str) -> DbConnection:
        policy = PrimaryPolicy(connect_timeout_s=CONNECT_TIMEOUT_S, deadline_s=timeout_s)
        connection: DbConnection = await connect_primary(dsn, policy)
        return connection

    return connect


@dataclass(frozen=True)
class StoreBacklog:
    """What the writer has not done yet, and what it did."""

    queued: int  # rows not acknowledged by the database (in_flight of them in a batch on the wire)
    in_flight: int
    oldest_age_s: float  # age of the oldest queued row (0 when none)
    written: int  # rows acknowledged since the start
    dropped: int  # rows left unwritten at close
    connected: bool
    drained: bool  # nothing queued or in flight: every row saved so far is in the database
    writing: bool  # a writer is running that will write what is queued (False: stopped, or gave up)

    def as_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


# Any failure of a connection (including asyncpg's internal state errors after a cancelled
# operation) means: drop it and reconnect. Programming errors would loop, and are logged.
DB_ERRORS = (Exception,)


class Store:
    """Queue of idempotent writes applied in batches by ``run()``; ``connected`` feeds deep health."""

    def __init__(
        self,
        dsn: str,
        *,
        reconnect: bool = True,
        retry_max_s: float = 0.5,
        statement_timeout_s: float = 5.0,
        ping_interval_s: float = 1.0,
        batch_max: int = BATCH_MAX,
        connect: Connect | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dsn = dsn
        self._reconnect = reconnect
        self._retry_max_s = retry_max_s
        self._timeout_s = statement_timeout_s
        self._ping_interval_s = ping_interval_s
        self._batch_max = batch_max
        self._connect = connect if connect is not None else asyncpg_connect(statement_timeout_s)
        self._clock = clock
        self._pending: deque[Row] = deque()
        self._in_flight = 0
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._conn: DbConnection | None = None
        self._running = False
        self._closed = False
        self.connected = False
        self.gave_up = False
        self.connections = 0
        self.written = 0
        self.batches = 0
        self.dropped = 0

    def save_order(self, order: Order) -> None:
        self._enqueue(order_row(order, self._clock()))

    def save_fill(self, fill: Fill) -> None:
        self._enqueue(fill_row(fill, self._clock()))

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def backlog_stats(self) -> StoreBacklog:
        oldest = self._clock() - self._pending[0].queued_at if self._pending else 0.0
        return StoreBacklog(queued=len(self._pending), in_flight=self._in_flight,
                            oldest_age_s=round(max(0.0, oldest), 3), written=self.written,
                            dropped=self.dropped, connected=self.connected,
                            drained=not self._pending and not self._in_flight,
                            writing=self._running and not self.gave_up)

    def _enqueue(self, row: Row) -> None:
        if self._closed:
            self.dropped += 1
            log.error("store closed: %s row %s dropped", row.table.value, row.key)
            return
        self._pending.append(row)
        self._wakeup.set()

    async def run(self) -> None:
        """Apply writes until cancelled; returns early only when the store gave up (the defect)."""
        self._running = True
        try:
            while True:
                connection = await self._ensure_connected()
                try:
                    await self._drain_or_ping(connection)
                except DB_ERRORS as err:
                    log.warning("database write failed (%s); reconnecting", err)
                    await self._disconnect()
                    if not self._reconnect:
                        self.gave_up = True
                        log.error("defect no-db-reconnect: the store will not reconnect; "
                                  "%d write(s) stay queued", self.backlog)
                        return
        finally:
            self._running = False
            self._drained.set()  # a flush waiting on this writer stops waiting
            await self._disconnect()

    async def _ensure_connected(self) -> DbConnection:
        delay = 0.1
        while self._conn is None:
            try:
                async with asyncio.timeout(self._timeout_s):
                    connection = await self._connect(self._dsn)
                    await connection.execute(SCHEMA)
                self._conn = connection
                self.connected = True
                self.connections += 1
                log.info("database connected")
            except DB_ERRORS as err:
                log.warning("database connect failed (%s); retry in %.1fs", err, delay)
                await asyncio.sleep(delay)
                delay = min(self._retry_max_s, delay * 2)
        return self._conn

    async def _drain_or_ping(self, connection: DbConnection) -> None:
        if not self._pending:
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._ping_interval_s):
                    await self._wakeup.wait()
        if not self._pending:
            async with asyncio.timeout(self._timeout_s):
                await connection.fetchval("SELECT 1")
            return
        while self._pending:
            await self._write_batch(connection, list(itertools.islice(self._pending, self._batch_max)))
        self._drained.set()

    async def _write_batch(self, connection: DbConnection, batch: list[Row]) -> None:
        """One statement for the whole batch; its rows leave the queue once it is acknowledged."""
        self._in_flight = len(batch)
        try:
            async with asyncio.timeout(self._timeout_s):
                await connection.fetchval(WRITE_BATCH, *batch_columns(batch))
        finally:
            self._in_flight = 0
        for _ in batch:
            self._pending.popleft()
        log_stored(batch)
        self.written += len(batch)
        self.batches += 1

    async def _disconnect(self) -> None:
        connection, self._conn = self._conn, None
        self.connected = False
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.terminate()

    async def flush(self, timeout_s: float) -> int:
        """Wait (at most ``timeout_s``) until queued writes are applied; returns the rows still queued.

        Returns at once when no writer can apply them (not running, or gave up: the defect).
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while self._pending and self._running:
                    self._drained.clear()
                    await self._drained.wait()
        return len(self._pending)

    async def close(self, timeout_s: float) -> int:
        """The last flush: rows still queued after it are counted as dropped, as is any row
        saved later. Returns how many rows were not written (a batch in flight included: its
        outcome is unknown; see ``backlog_stats().in_flight``)."""
        left = await self.flush(timeout_s)
        self._closed = True
        self.dropped += left
        if left:
            log.error("store closed with %d row(s) not written (%d in flight)", left, self._in_flight)
        return left


class BacklogSink(Protocol):
    def store_backlog(self, backlog: StoreBacklog) -> None: ...


def worth_publishing(stats: StoreBacklog, last: StoreBacklog | None) -> bool:
    """A sample goes out while rows are queued, and once when anything changed (an idle store is quiet)."""
    return stats.queued > 0 or stats != last


async def publish_backlog(store: Store, sink: Callable[[], BacklogSink | None],
                          interval_s: float = BACKLOG_PUBLISH_INTERVAL_S) -> None:
    """Every ``interval_s``, publish the store's backlog to ``sink()`` when worth it."""
    last: StoreBacklog | None = None
    while True:
        await asyncio.sleep(interval_s)
        stats, target = store.backlog_stats(), sink()
        if target is not None and worth_publishing(stats, last):
            target.store_backlog(stats)
            last = stats
