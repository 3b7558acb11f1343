"""The store's tables and its one write statement: a batch of queued rows in one round trip.

A batch is applied by a single statement (one implicit transaction, all or nothing): order
upserts in a data-modifying CTE, fills in the main ``INSERT``, each from ``unnest`` of column
arrays. Both stay idempotent, so a batch retried after a lost acknowledgement changes nothing
twice: fills ``ON CONFLICT (exec_id) DO NOTHING``; orders upserted keyed by ``cl_ord_id``.

Every batch takes a transaction id (``txid_current()``), so its commit writes WAL and waits for
the synchronous standby even when every row was already there. Without it, a batch retried on an
old primary that committed it locally before it was cut off (paused, then back for a moment before
it is fenced) would be a no-op acknowledged at once, and its rows, on no server that survives the
failover, would leave the queue as written.

Postgres refuses an upsert that touches one row twice in a statement, so the updates of one
order within a batch are merged first (:func:`batch_columns`, pure), into exactly what applying
them one after the other would leave: the insert-only columns of the first, the latest known
``exchange_order_id``, the largest ``cum_qty``, the last ``status`` and the first known ``corr``.
Orders and fills are different tables written atomically together, so their relative order within
a batch is moot; batches are applied in queue order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from trading_stack.models import Fill, Order

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
ALTER TABLE oms_orders ADD COLUMN IF NOT EXISTS corr TEXT;
"""

ORDER_COLUMNS = ("cl_ord_id", "exchange_order_id", "instance", "symbol", "side", "ord_type", "qty", "cum_qty",
                 "price", "status", "corr")
ORDER_TYPES = ("text", "text", "text", "text", "text", "text", "bigint", "bigint", "float8", "text", "text")
FILL_COLUMNS = ("exec_id", "cl_ord_id", "exchange_order_id", "instance", "symbol", "side", "qty", "price",
                "t_ns")
FILL_TYPES = ("text", "text", "text", "text", "text", "text", "bigint", "float8", "bigint")


def _unnest(types: Sequence[str], first: int) -> str:
    return ", ".join(f"${first + i}::{kind}[]" for i, kind in enumerate(types))


WRITE_BATCH = f"""
WITH orders AS (
    INSERT INTO oms_orders ({", ".join(ORDER_COLUMNS)})
    SELECT * FROM unnest({_unnest(ORDER_TYPES, 1)})
    ON CONFLICT (cl_ord_id) DO UPDATE SET
        exchange_order_id = COALESCE(EXCLUDED.exchange_order_id, oms_orders.exchange_order_id),
        cum_qty = GREATEST(EXCLUDED.cum_qty, oms_orders.cum_qty),
        status = EXCLUDED.status,
        corr = COALESCE(oms_orders.corr, EXCLUDED.corr),
        updated_at = clock_timestamp()
    RETURNING 1
), fills AS (
    INSERT INTO oms_fills ({", ".join(FILL_COLUMNS)})
    SELECT * FROM unnest({_unnest(FILL_TYPES, len(ORDER_TYPES) + 1)})
    ON CONFLICT (exec_id) DO NOTHING
    RETURNING 1
)
SELECT txid_current()
"""


class Table(StrEnum):
    ORDERS = "oms_orders"
    FILLS = "oms_fills"


@dataclass(frozen=True)
class Row:
    """One queued write: the values as they were when it was queued, and when that was."""

    table: Table
    values: tuple[Any, ...]
    queued_at: float = 0.0

    @property
    def key(self) -> str:
        return str(self.values[0])


def order_row(order: Order, queued_at: float = 0.0) -> Row:
    return Row(Table.ORDERS, (order.order_id, order.exchange_order_id, order.instance, order.symbol,
                              order.side.value, order.ord_type.value, order.qty, order.cum_qty, order.price,
                              order.status.value, order.corr), queued_at)


def fill_row(fill: Fill, queued_at: float = 0.0) -> Row:
    return Row(Table.FILLS, (fill.exec_id, fill.order_id, fill.exchange_order_id, fill.instance, fill.symbol,
                             fill.side.value, fill.qty, fill.price, fill.t_ns), queued_at)


_EXCHANGE_ID, _CUM_QTY, _STATUS, _CORR = 1, 7, 9, 10


def _merge_order(earlier: tuple[Any, ...], later: tuple[Any, ...]) -> tuple[Any, ...]:
    """What upserting ``earlier`` then ``later`` leaves (the statement's ON CONFLICT rules)."""
    merged = list(earlier)
    merged[_EXCHANGE_ID] = later[_EXCHANGE_ID] if later[_EXCHANGE_ID] is not None else earlier[_EXCHANGE_ID]
    merged[_CUM_QTY] = max(earlier[_CUM_QTY], later[_CUM_QTY])
    merged[_STATUS] = later[_STATUS]
    merged[_CORR] = earlier[_CORR] if earlier[_CORR] is not None else later[_CORR]
    return tuple(merged)


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


def batch_columns(rows: Sequence[Row]) -> list[list[Any]]:
    """The ``WRITE_BATCH`` arguments for ``rows`` (in queue order): one array per column."""
    orders: dict[str, tuple[Any, ...]] = {}
    fills: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        if row.table is Table.ORDERS:
            earlier = orders.get(row.key)
            orders[row.key] = row.values if earlier is None else _merge_order(earlier, row.values)
        else:
            fills.setdefault(row.key, row.values)
    return [*_columns(list(orders.values()), len(ORDER_COLUMNS)),
            *_columns(list(fills.values()), len(FILL_COLUMNS))]
