"""What the matching engine takes in and gives back: requests, executions, cancel rejections.

Protocol-neutral values: the FIX order entry and a WebSocket gateway both build the requests
and turn the results into their own messages. The ones made for every order are typed named
tuples: immutable like frozen dataclasses, and several times cheaper to build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from mock_exchange.model import ExecType, Order, OrderStatus, OrdType, Side, TimeInForce


class NewOrderRequest(NamedTuple):
    cl_ord_id: str
    sender_comp_id: str
    sender_sub_id: str | None
    symbol: str
    side: Side
    ord_type: OrdType
    tif: TimeInForce
    price: float | None
    qty: int


class ReplaceRequest(NamedTuple):
    """Change the quantity and/or limit price of an open order (OrderCancelReplaceRequest)."""

    orig_cl_ord_id: str
    order_id: str | None
    cl_ord_id: str
    requested_by: str
    qty: int
    price: float | None


class OrderState(NamedTuple):
    """An order's fill state right after one execution, for a report built after later ones."""

    status: OrderStatus
    cum_qty: int
    leaves_qty: int
    avg_px: float

    @classmethod
    def of(cls, order: Order) -> OrderState:
        return cls(order.status, order.cum_qty, order.leaves_qty, order.avg_px)


class Execution(NamedTuple):
    """One change of an order to report (the order is read when the report is built, unless
    ``state`` holds its state as of this change: one trade reported in several pieces)."""

    order: Order
    exec_type: ExecType
    exec_id: str
    last_qty: int = 0
    last_px: float = 0.0
    text: str | None = None
    cancel_cl_ord_id: str | None = None
    requested_by: str | None = None
    orig_cl_ord_id: str | None = None  # a replace: the ClOrdID the order had before
    last_mkt: str | None = None
    state: OrderState | None = None


class CancelRejectReason(IntEnum):
    """CxlRejReason(102) values."""

    TOO_LATE_TO_CANCEL = 0
    UNKNOWN_ORDER = 1
    BROKER_OPTION = 2
    DUPLICATE_CL_ORD_ID = 6
    OTHER = 99


@dataclass(frozen=True, slots=True)
class CancelRejection:
    reason: CancelRejectReason
    text: str
    order: Order | None


CancelOutcome = Execution | CancelRejection
# Called with the outcome of a cancel the venue held (a hanging cancel fault) once it is healed.
OnCancelReleased = Callable[[CancelOutcome], None]
