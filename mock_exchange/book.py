"""Matching: orders rest at the venue and fill against the seeded price process.

On every step each marketable open order (market, buy limit >= ask, sell limit <= bid) fills
with probability ``fill_probability`` a seeded random part of its leaves, at its limit price
(market orders: at the touch). IOC orders get one attempt on arrival; the rest is canceled.

The engine knows nothing of FIX: it returns :class:`Execution` values to route.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from enum import IntEnum

from mock_exchange.config import VenueConfig
from mock_exchange.ledger import Ledger
from mock_exchange.model import (
    ExecType,
    Order,
    OrderStatus,
    OrdType,
    Side,
    TimeInForce,
    attribute_instance,
)
from mock_exchange.prices import PriceProcess, derive_seed


@dataclass(frozen=True, slots=True)
class NewOrderRequest:
    cl_ord_id: str
    sender_comp_id: str
    sender_sub_id: str | None
    symbol: str
    side: Side
    ord_type: OrdType
    tif: TimeInForce
    price: float | None
    qty: int


@dataclass(frozen=True, slots=True)
class Execution:
    """One change of an order to report (the order is read when the report is built)."""

    order: Order
    exec_type: ExecType
    exec_id: str
    last_qty: int = 0
    last_px: float = 0.0
    text: str | None = None
    cancel_cl_ord_id: str | None = None
    requested_by: str | None = None


class CancelRejectReason(IntEnum):
    """CxlRejReason(102) values."""

    TOO_LATE_TO_CANCEL = 0
    UNKNOWN_ORDER = 1


@dataclass(frozen=True, slots=True)
class CancelRejection:
    reason: CancelRejectReason
    text: str
    order: Order | None


class MatchingEngine:
    """Orders, prices and fills of one venue; every change goes through the ledger first."""

    def __init__(self, config: VenueConfig, ledger: Ledger) -> None:
        self._ledger = ledger
        self._fill_probability = config.fill_probability
        self._rng = random.Random(derive_seed(config.seed, "fills"))
        self.prices = {symbol.symbol: PriceProcess(symbol, config.seed) for symbol in config.symbols}

    def submit(self, request: NewOrderRequest) -> list[Execution]:
        """Accept (or reject) a new order; IOC orders also get their one matching attempt."""
        now_ns = time.monotonic_ns()
        reject_text = self._validate(request)
        order = Order(
            order_id=self._ledger.next_order_id(),
            cl_ord_id=request.cl_ord_id,
            sender_comp_id=request.sender_comp_id,
            sender_sub_id=request.sender_sub_id,
            instance=attribute_instance(request.sender_sub_id, request.cl_ord_id),
            symbol=request.symbol,
            side=request.side,
            ord_type=request.ord_type,
            tif=request.tif,
            price=request.price if request.ord_type is OrdType.LIMIT else None,
            qty=request.qty,
            received_ns=now_ns,
            status=OrderStatus.REJECTED if reject_text else OrderStatus.NEW,
        )
        order = self._ledger.record_order(order, text=reject_text)
        ack = order.events[-1]
        executions = [Execution(order, ack.exec_type, ack.exec_id, text=reject_text)]
        if order.is_open and order.tif is TimeInForce.IOC:
            fill = self._try_fill(order)
            if fill is not None:
                executions.append(fill)
            if order.is_open:
                executions.append(self._cancel(order, text="IOC remainder canceled"))
        return executions

    def knows_cl_ord_id(self, cl_ord_id: str) -> bool:
        return self._ledger.order_by_cl_ord_id(cl_ord_id) is not None

    def cancel(
        self, orig_cl_ord_id: str, *, order_id: str | None, cancel_cl_ord_id: str, requested_by: str
    ) -> Execution | CancelRejection:
        """Cancel an order of the firm by OrigClOrdID (or OrderID when that is all that matches)."""
        order = self._ledger.order_by_cl_ord_id(orig_cl_ord_id)
        if order is None and order_id:
            order = self._ledger.orders.get(order_id)
        if order is None:
            return CancelRejection(CancelRejectReason.UNKNOWN_ORDER, "unknown order", None)
        if not order.is_open:
            return CancelRejection(
                CancelRejectReason.TOO_LATE_TO_CANCEL, f"order already {order.status.value}", order
            )
        return self._cancel(
            order, text="canceled on request", cancel_cl_ord_id=cancel_cl_ord_id, requested_by=requested_by
        )

    def cancel_orders_of_session(self, sender_comp_id: str, *, text: str) -> list[Execution]:
        """Cancel every open order a session entered (cancel-on-disconnect)."""
        return [
            self._cancel(order, text=text)
            for order in list(self._ledger.open_orders.values())
            if order.sender_comp_id == sender_comp_id
        ]

    def step(self) -> list[Execution]:
        """Move every price one step, then give each marketable open order its fill chance."""
        for process in self.prices.values():
            process.step()
        executions: list[Execution] = []
        for order in list(self._ledger.open_orders.values()):
            fill = self._try_fill(order)
            if fill is not None:
                executions.append(fill)
        return executions

    def _try_fill(self, order: Order) -> Execution | None:
        price = self._marketable_price(order)
        if price is None or self._rng.random() >= self._fill_probability:
            return None
        qty = self._rng.randint(1, order.leaves_qty)
        fill = self._ledger.record_fill(order, qty=qty, price=price, t_ns=time.monotonic_ns())
        return Execution(order, ExecType.TRADE, fill.exec_id, last_qty=qty, last_px=price)

    def _marketable_price(self, order: Order) -> float | None:
        process = self.prices.get(order.symbol)
        if process is None:
            return None
        quote = process.quote
        if order.price is None:
            return quote.ask if order.side is Side.BUY else quote.bid
        if order.side is Side.BUY:
            return order.price if order.price >= quote.ask else None
        return order.price if order.price <= quote.bid else None

    def _cancel(
        self,
        order: Order,
        *,
        text: str,
        cancel_cl_ord_id: str | None = None,
        requested_by: str | None = None,
    ) -> Execution:
        event = self._ledger.record_cancel(
            order,
            t_ns=time.monotonic_ns(),
            text=text,
            cancel_cl_ord_id=cancel_cl_ord_id,
            requested_by=requested_by,
        )
        return Execution(
            order,
            ExecType.CANCELED,
            event.exec_id,
            text=text,
            cancel_cl_ord_id=cancel_cl_ord_id,
            requested_by=requested_by,
        )

    def _validate(self, request: NewOrderRequest) -> str | None:
        """Why a well-formed order is refused (business rules), else ``None``."""
        process = self.prices.get(request.symbol)
        if process is None:
            return f"unknown symbol {request.symbol}"
        if request.qty <= 0:
            return "OrderQty must be a positive integer"
        if request.ord_type is OrdType.LIMIT:
            if request.price is None or request.price <= 0:
                return "limit order needs a positive Price"
            if not process.is_on_tick(request.price):
                return f"Price {request.price} is not on the {request.symbol} tick"
        return None
