"""Postgres persistence of orders and fills (asyncpg), buffered and self-healing.

Writes are queued and applied in order by one task that connects with retry and
reconnects on failure, so a database outage never blocks the order path; inserts are
idempotent (orders keyed by ``cl_ord_id`` upserted, fills keyed by ``exec_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

import asyncpg

from trading_stack.models import Fill, Order

log = logging.getLogger(__name__)

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
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
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
    t_ns BIGINT NOT NULL
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
    updated_at = now()
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

    def __init__(self, dsn: str, retry_max_s: float = 2.0, statement_timeout_s: float = 5.0) -> None:
        self._dsn = dsn
        self._retry_max_s = retry_max_s
        self._timeout_s = statement_timeout_s
        self._pending: deque[_Write] = deque()
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._conn: Any = None
        self.connected = False
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
        try:
            while True:
                await self._ensure_connected()
                try:
                    await self._drain_or_ping()
                except DB_ERRORS as err:
                    log.warning("database write failed (%s); reconnecting", err)
                    await self._disconnect()
        finally:
            await self._disconnect()

    async def _ensure_connected(self) -> None:
        delay = 0.1
        while self._conn is None:
            try:
                async with asyncio.timeout(self._timeout_s):
                    conn = await asyncpg.connect(self._dsn)
                    await conn.execute(SCHEMA)
                self._conn = conn
                self.connected = True
                log.info("database connected")
            except DB_ERRORS as err:
                log.warning("database connect failed (%s); retry in %.1fs", err, delay)
                await asyncio.sleep(delay)
                delay = min(self._retry_max_s, delay * 2)

    async def _drain_or_ping(self) -> None:
        if not self._pending:
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wakeup.wait()
        if not self._pending:
            async with asyncio.timeout(self._timeout_s):
                await self._conn.fetchval("SELECT 1")
            return
        while self._pending:
            write = self._pending[0]
            async with asyncio.timeout(self._timeout_s):
                await self._conn.execute(write.sql, *write.args)
            self._pending.popleft()
            self.written += 1
        self._drained.set()

    async def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        self.connected = False
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.terminate()

    async def flush(self, timeout_s: float) -> None:
        """Wait (bounded) until queued writes are applied."""
        if not self._pending or not self.connected:
            return
        self._drained.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._drained.wait()
