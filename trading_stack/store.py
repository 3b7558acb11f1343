"""Postgres persistence of orders and fills (asyncpg), buffered and self-healing.

Writes are queued and applied in order by one task that connects with retry and
reconnects on failure, so a database outage never blocks the order path; inserts are
idempotent (orders keyed by ``cl_ord_id`` upserted, fills keyed by ``exec_id``), and a write
leaves the queue only once the database acknowledged it, so none is lost across a reconnect.

The DSN may list several hosts (the primary, then its replica) with
``target_session_attrs=read-write``: a reconnect lands on whichever is the primary now, which
is how the store follows a promoted replica. ``reconnect=False`` reproduces the
``no-db-reconnect`` defect: after the first lost connection the store never connects again,
its writes stay queued, and the OMS trades on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg

from trading_stack.models import Fill, Order

log = logging.getLogger(__name__)


class DbConnection(Protocol):
    """The part of an ``asyncpg.Connection`` the store uses (a seam for tests)."""

    async def execute(self, query: str, *args: Any) -> Any: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    def terminate(self) -> None: ...


Connect = Callable[[str], Awaitable[DbConnection]]


async def asyncpg_connect(dsn: str) -> DbConnection:
    connection: DbConnection = await asyncpg.connect(dsn)
    return connection


SCHEMA = """
CREATE TABLE IF NOT EXISTS oms_orders (
    cl_ord_id TEXT PRIMARY KEY,
    exchange_order_id TEXT,
    instance TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    ord_type TEXT NOT NULL,
    qty BIGINT NOT NULL,
    cum_qty BIGINT NOT NULL,
    price DOUBLE PRECISION,
    status TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS oms_fills (
    exec_id TEXT PRIMARY KEY,
    cl_ord_id TEXT NOT NULL,
    exchange_order_id TEXT,
    instance TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty BIGINT NOT NULL,
    price DOUBLE PRECISION NOT NULL,
    t_ns BIGINT NOT NULL,
    committed_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
"""

UPSERT_ORDER = """
INSERT INTO oms_orders (cl_ord_id, exchange_order_id, instance, symbol, side, ord_type, qty, cum_qty,
                        price, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (cl_ord_id) DO UPDATE SET
    exchange_order_id = COALESCE(EXCLUDED.exchange_order_id, oms_orders.exchange_order_id),
    cum_qty = GREATEST(EXCLUDED.cum_qty, oms_orders.cum_qty),
    status = EXCLUDED.status,
    updated_at = clock_timestamp()
"""

INSERT_FILL = """
INSERT INTO oms_fills (exec_id, cl_ord_id, exchange_order_id, instance, symbol, side, qty, price, t_ns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (exec_id) DO NOTHING
"""


@dataclass(frozen=True)
class _Write:
    sql: str
    args: tuple[Any, ...]


def order_write(order: Order) -> _Write:
    return _Write(
        UPSERT_ORDER,
        (
            order.order_id,
            order.exchange_order_id,
            order.instance,
            order.symbol,
            order.side.value,
            order.ord_type.value,
            order.qty,
            order.cum_qty,
            order.price,
            order.status.value,
        ),
    )


def fill_write(fill: Fill) -> _Write:
    return _Write(
        INSERT_FILL,
        (
            fill.exec_id,
            fill.order_id,
            fill.exchange_order_id,
            fill.instance,
            fill.symbol,
            fill.side.value,
            fill.qty,
            fill.price,
            fill.t_ns,
        ),
    )


# Any failure of a connection (including asyncpg's internal state errors after a cancelled
# operation) means: drop it and reconnect. Programming errors would loop, and are logged.
DB_ERRORS = (Exception,)


class Store:
    """Queue of idempotent writes applied by ``run()``; ``connected`` feeds deep health."""

    def __init__(
        self,
        dsn: str,
        *,
        reconnect: bool = True,
        retry_max_s: float = 0.5,
        statement_timeout_s: float = 5.0,
        ping_interval_s: float = 1.0,
        connect: Connect = asyncpg_connect,
    ) -> None:
        self._dsn = dsn
        self._reconnect = reconnect
        self._retry_max_s = retry_max_s
        self._timeout_s = statement_timeout_s
        self._ping_interval_s = ping_interval_s
        self._connect = connect
        self._pending: deque[_Write] = deque()
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._conn: DbConnection | None = None
        self.connected = False
        self.gave_up = False
        self.connections = 0
        self.written = 0

    def save_order(self, order: Order) -> None:
        self._enqueue(order_write(order))

    def save_fill(self, fill: Fill) -> None:
        self._enqueue(fill_write(fill))

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def _enqueue(self, write: _Write) -> None:
        self._pending.append(write)
        self._wakeup.set()

    async def run(self) -> None:
        """Apply writes until cancelled; returns early only when the store gave up (the defect)."""
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
            write = self._pending[0]
            async with asyncio.timeout(self._timeout_s):
                await connection.execute(write.sql, *write.args)
            self._pending.popleft()
            self.written += 1
        self._drained.set()

    async def _disconnect(self) -> None:
        connection, self._conn = self._conn, None
        self.connected = False
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.terminate()

    async def flush(self, timeout_s: float) -> None:
        """Wait (bounded) until queued writes are applied."""
        if not self._pending or not self.connected:
            return
        self._drained.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._drained.wait()
