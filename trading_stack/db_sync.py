"""Out-of-band state in Postgres: risk limits, and the open orders a promoted DR must adopt.

Short-lived connections of their own, so they work whatever the order-path store is doing; each
goes to the writable primary of the multi-host DSN (:mod:`trading_stack.pg_connect`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from trading_stack.models import Order, OrderStatus
from trading_stack.pg_connect import PrimaryPolicy, on_primary

RISK_SCHEMA = """
CREATE TABLE IF NOT EXISTS oms_risk_limits (
    symbol TEXT PRIMARY KEY,
    max_order_qty BIGINT NOT NULL,
    set_by TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""

SAVE_RISK_LIMIT = """
INSERT INTO oms_risk_limits (symbol, max_order_qty, set_by) VALUES ($1, $2, $3)
ON CONFLICT (symbol) DO UPDATE SET max_order_qty = EXCLUDED.max_order_qty, set_by = EXCLUDED.set_by,
                                   updated_at = now()
"""

OPEN_ORDERS = """
SELECT cl_ord_id, exchange_order_id, instance, symbol, side, ord_type, qty, cum_qty, price, status, corr
FROM oms_orders WHERE status = ANY($1::text[])
"""

OPEN_STATUSES = [status.value for status in OrderStatus if status.is_open]


@dataclass(frozen=True)
class OutOfBandState:
    risk_limits: dict[str, int] = field(default_factory=dict)
    open_orders: tuple[Order, ...] = ()


async def save_risk_limit(dsn: str, symbol: str, max_order_qty: int, set_by: str, timeout_s: float) -> None:
    async def save(connection: asyncpg.Connection) -> None:
        await connection.execute(RISK_SCHEMA)
        await connection.execute(SAVE_RISK_LIMIT, symbol, max_order_qty, set_by)  # an upsert: retry-safe

    await on_primary(dsn, save, PrimaryPolicy(deadline_s=timeout_s))


async def _table_exists(connection: asyncpg.Connection, table: str) -> bool:
    return bool(await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", table))


async def _read_state(connection: asyncpg.Connection) -> OutOfBandState:
    limits: dict[str, int] = {}
    if await _table_exists(connection, "oms_risk_limits"):
        rows = await connection.fetch("SELECT symbol, max_order_qty FROM oms_risk_limits")
        limits = {row["symbol"]: int(row["max_order_qty"]) for row in rows}
    orders: tuple[Order, ...] = ()
    if await _table_exists(connection, "oms_orders"):
        rows = await connection.fetch(OPEN_ORDERS, OPEN_STATUSES)
        orders = tuple(Order(order_id=row["cl_ord_id"], exchange_order_id=row["exchange_order_id"],
                             instance=row["instance"], symbol=row["symbol"], side=row["side"],
                             ord_type=row["ord_type"], qty=row["qty"], cum_qty=row["cum_qty"],
                             price=row["price"], status=row["status"], corr=row["corr"]) for row in rows)
    return OutOfBandState(limits, orders)


async def load_out_of_band_state(dsn: str, policy: PrimaryPolicy) -> OutOfBandState:
    """Read from the writable primary (a replica may not have the latest limit yet), each host of
    the DSN asked with its own connect bound, as ``policy`` says (a promotion retries until its
    deadline); :class:`~trading_stack.pg_connect.PrimaryUnavailable` when none served in time."""
    return await on_primary(dsn, _read_state, policy)
