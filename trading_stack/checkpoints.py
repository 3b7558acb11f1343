"""Positions in Postgres: the shutdown checkpoint, and positions rebuilt from the fills table.

Short-lived connections of their own (as in :mod:`trading_stack.db_sync`), so they work whatever
the order-path store is doing, each to the writable primary of the multi-host DSN (each host asked
with its own connect bound: :mod:`trading_stack.pg_connect`). A checkpoint is what a gracefully
stopped instance knew when it stopped; the fills table is what every active instance booked,
which is what a rollback restores.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import asyncpg
from pydantic import BaseModel, ConfigDict

from trading_stack.deploy.positions import Position, apply_fill
from trading_stack.models import Order, Side
from trading_stack.pg_connect import PrimaryPolicy, on_primary

CHECKPOINT_SCHEMA = """
CREATE TABLE IF NOT EXISTS oms_checkpoints (
    instance TEXT NOT NULL,
    t_ns BIGINT NOT NULL,
    positions JSONB NOT NULL,
    open_orders JSONB NOT NULL,
    saved_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (instance, t_ns)
)
"""

SAVE = """
INSERT INTO oms_checkpoints (instance, t_ns, positions, open_orders) VALUES ($1, $2, $3, $4)
ON CONFLICT (instance, t_ns) DO NOTHING
"""
LATEST = """
SELECT t_ns, positions, open_orders FROM oms_checkpoints WHERE instance = $1 ORDER BY t_ns DESC LIMIT 1
"""
FILLS_IN_ORDER = "SELECT symbol, side, qty, price FROM oms_fills ORDER BY t_ns, exec_id"


class CheckedPosition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    qty: int
    avg_price: float
    realized_pnl: float


class Checkpoint(BaseModel):
    """What an instance knew when it stopped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    instance: str
    t_ns: int
    positions: dict[str, CheckedPosition]
    open_orders: tuple[Order, ...] = ()

    @classmethod
    def of(cls, instance: str, t_ns: int, positions: Mapping[str, Position], open_orders: Sequence[Order]
           ) -> Checkpoint:
        checked = {symbol: CheckedPosition(qty=p.qty, avg_price=p.avg_price, realized_pnl=p.realized_pnl)
                   for symbol, p in positions.items()}
        return cls(instance=instance, t_ns=t_ns, positions=checked, open_orders=tuple(open_orders))

    def book_positions(self) -> dict[str, Position]:
        return {symbol: Position(symbol, p.qty, p.avg_price, p.realized_pnl)
                for symbol, p in self.positions.items()}

    def lots(self) -> dict[str, int]:
        return {symbol: p.qty for symbol, p in self.positions.items() if p.qty}


async def save_checkpoint(dsn: str, checkpoint: Checkpoint, timeout_s: float) -> None:
    positions = {symbol: p.model_dump() for symbol, p in checkpoint.positions.items()}
    orders = [order.model_dump(mode="json") for order in checkpoint.open_orders]

    async def save(connection: asyncpg.Connection) -> None:
        await connection.execute(CHECKPOINT_SCHEMA)
        await connection.execute(SAVE, checkpoint.instance, checkpoint.t_ns, json.dumps(positions),
                                 json.dumps(orders))

    await on_primary(dsn, save, PrimaryPolicy(deadline_s=timeout_s))


async def load_checkpoint(dsn: str, instance: str, timeout_s: float) -> Checkpoint | None:
    """The latest checkpoint of ``instance``, or None when it never saved one."""

    async def latest(connection: asyncpg.Connection) -> asyncpg.Record | None:
        if not await connection.fetchval("SELECT to_regclass('oms_checkpoints') IS NOT NULL"):
            return None
        record: asyncpg.Record | None = await connection.fetchrow(LATEST, instance)
        return record

    row = await on_primary(dsn, latest, PrimaryPolicy(deadline_s=timeout_s))
    if row is None:
        return None
    return Checkpoint(instance=instance, t_ns=row["t_ns"], positions=json.loads(row["positions"]),
                      open_orders=tuple(json.loads(row["open_orders"])))


def positions_from_fills(rows: Sequence[tuple[str, str, int, float]]) -> dict[str, Position]:
    """Average-cost positions from (symbol, side, qty, price) rows in booking order (pure)."""
    positions: dict[str, Position] = {}
    for symbol, side, qty, price in rows:
        held = positions.get(symbol, Position(symbol))
        positions[symbol] = apply_fill(held, Side(side).sign * int(qty), float(price))
    return positions


async def load_positions(dsn: str, timeout_s: float) -> dict[str, Position]:
    """Every fill the active instances stored, booked in order: the database's positions."""

    async def fills(connection: asyncpg.Connection) -> list[asyncpg.Record]:
        if not await connection.fetchval("SELECT to_regclass('oms_fills') IS NOT NULL"):
            return []
        return list(await connection.fetch(FILLS_IN_ORDER))

    rows = await on_primary(dsn, fills, PrimaryPolicy(deadline_s=timeout_s))
    return positions_from_fills([(r["symbol"], r["side"], r["qty"], r["price"]) for r in rows])
