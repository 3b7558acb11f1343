"""The OMS's order lifecycle lines (docs/contracts.md, "Observability"): one per step, each with the
order's keys and its correlation id, so one id finds the order's whole trail across instances.

``order_accepted`` / ``order_refused`` (the risk decision, with the limit), ``order_sent`` (the
NewOrderSingle), ``order_<status>`` (each status an execution report moves it to), ``fill``,
``order_stored``, ``order_failed`` (not sent or not answered), and on another instance
``order_mirrored`` / ``order_adopted`` / ``order_reconciled``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trading_stack.json_log import log_event
from trading_stack.models import ExecutionReport, Fill, NewOrderRequest, Order
from trading_stack.store_batch import ORDER_COLUMNS, Row, Table

if TYPE_CHECKING:
    from trading_stack.book import Book

log = logging.getLogger("trading_stack.orders")


def log_order(event: str, msg: str, order: Order, detail: Mapping[str, Any] | None = None) -> None:
    log_event(log, event, msg, detail=detail, corr=order.corr, cl_ord_id=order.order_id,
              order_id=order.exchange_order_id, symbol=order.symbol, side=order.side.value, qty=order.qty)


def log_request(event: str, msg: str, request: NewOrderRequest, detail: Mapping[str, Any] | None = None,
                level: int = logging.INFO) -> None:
    """A client request before it is an order (the correlation id is the request's own)."""
    log_event(log, event, msg, level=level, detail=detail, symbol=request.symbol, side=request.side.value,
              qty=request.qty)


def log_fill(fill: Fill, corr: str | None) -> None:
    log_event(log, "fill", f"fill {fill.qty} @ {fill.price}", detail={"price": fill.price}, corr=corr,
              cl_ord_id=fill.order_id, order_id=fill.exchange_order_id, exec_id=fill.exec_id,
              symbol=fill.symbol, side=fill.side.value, qty=fill.qty)


def log_reconciled(book: Book, reports: Iterable[ExecutionReport], source: str) -> None:
    """Each open order of a mass status as the book holds it after the import (its correlation id, if
    known); the done ones are left out: a day's orders would be a line each."""
    for report in reports:
        order = book.get(report.cl_ord_id)
        if order is not None and order.status.is_open:
            log_order("order_reconciled", f"order reconciled with the venue ({source})", order,
                      detail={"status": order.status.value, "cum_qty": order.cum_qty})


def log_stored(batch: Sequence[Row]) -> None:
    """Each order a written batch held, as the database now has it (its last row in the batch)."""
    if not log.isEnabledFor(logging.INFO):
        return
    latest = {row.key: dict(zip(ORDER_COLUMNS, row.values, strict=True))
              for row in batch if row.table is Table.ORDERS}
    for row in latest.values():
        status = row["status"]
        log_event(log, "order_stored", f"order row written ({status})", detail={"status": status},
                  corr=row["corr"], cl_ord_id=row["cl_ord_id"], order_id=row["exchange_order_id"],
                  symbol=row["symbol"], side=row["side"], qty=row["qty"])
