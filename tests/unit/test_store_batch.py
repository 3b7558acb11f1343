"""The store's batch statement arguments (pure): one array per column, fills de-duplicated, and
the updates of one order merged into what applying them one after the other would leave."""

from __future__ import annotations

from typing import Any

from trading_stack.models import Fill, Order, OrderStatus, OrdType, Side
from trading_stack.store_batch import (
    FILL_COLUMNS,
    FILL_TYPES,
    ORDER_COLUMNS,
    ORDER_TYPES,
    WRITE_BATCH,
    batch_columns,
    fill_row,
    order_row,
)


def order(cum_qty: int, status: OrderStatus, exchange_order_id: str | None, qty: int = 5,
          order_id: str = "oms-1-1", corr: str | None = "t-1") -> Order:
    return Order(order_id=order_id, exchange_order_id=exchange_order_id, instance="oms-primary",
                 symbol="BTC-USD", side=Side.BUY, ord_type=OrdType.LIMIT, qty=qty, cum_qty=cum_qty,
                 price=100.0, status=status, corr=corr)


def fill(exec_id: str, order_id: str = "oms-1-1") -> Fill:
    return Fill(exec_id=exec_id, order_id=order_id, exchange_order_id="X1", symbol="BTC-USD", side=Side.BUY,
                qty=1, price=100.0, t_ns=1, instance="oms-primary")


def rows_of(columns: list[list[Any]], first: int, width: int) -> list[tuple[Any, ...]]:
    return list(zip(*columns[first:first + width], strict=True))


def test_one_array_per_column_and_the_statement_binds_them_all() -> None:
    columns = batch_columns([order_row(order(0, OrderStatus.NEW, None)), fill_row(fill("E1"))])
    assert len(columns) == len(ORDER_COLUMNS) + len(FILL_COLUMNS)
    assert f"${len(ORDER_TYPES) + len(FILL_TYPES)}::bigint[]" in WRITE_BATCH
    assert f"${len(ORDER_TYPES) + len(FILL_TYPES) + 1}" not in WRITE_BATCH
    assert rows_of(columns, 0, len(ORDER_COLUMNS)) == [
        ("oms-1-1", None, "oms-primary", "BTC-USD", "buy", "limit", 5, 0, 100.0, "new", "t-1")]
    assert rows_of(columns, len(ORDER_COLUMNS), len(FILL_COLUMNS)) == [
        ("E1", "oms-1-1", "X1", "oms-primary", "BTC-USD", "buy", 1, 100.0, 1)]


def test_updates_of_one_order_merge_like_successive_upserts() -> None:
    rows = [
        order_row(order(0, OrderStatus.PENDING_NEW, None, corr=None)),  # learnt without its correlation id
        order_row(order(0, OrderStatus.NEW, "X1")),
        order_row(order(3, OrderStatus.PARTIALLY_FILLED, None, qty=99, corr="t-2")),  # insert-only: ignored
        order_row(order(2, OrderStatus.CANCELED, None)),  # a stale cum_qty never lowers it
    ]
    [merged] = rows_of(batch_columns(rows), 0, len(ORDER_COLUMNS))
    assert merged == ("oms-1-1", "X1", "oms-primary", "BTC-USD", "buy", "limit", 5, 3, 100.0, "canceled",
                      "t-1")


def test_orders_keep_their_first_seen_order_and_fills_are_deduplicated() -> None:
    rows = [order_row(order(0, OrderStatus.NEW, "X2", order_id="oms-1-2")), fill_row(fill("E1")),
            order_row(order(0, OrderStatus.NEW, "X1")), fill_row(fill("E2")), fill_row(fill("E1")),
            order_row(order(1, OrderStatus.FILLED, None, order_id="oms-1-2"))]
    columns = batch_columns(rows)
    orders = rows_of(columns, 0, len(ORDER_COLUMNS))
    assert [(o[0], o[9]) for o in orders] == [("oms-1-2", "filled"), ("oms-1-1", "new")]
    assert [f[0] for f in rows_of(columns, len(ORDER_COLUMNS), len(FILL_COLUMNS))] == ["E1", "E2"]


def test_an_empty_side_is_a_set_of_empty_arrays() -> None:
    columns = batch_columns([fill_row(fill("E1"))])
    assert columns[:len(ORDER_COLUMNS)] == [[] for _ in ORDER_COLUMNS]
