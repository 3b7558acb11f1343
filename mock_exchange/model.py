"""Value types of the venue: enums and the order/fill records the ledger holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrdType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in _OPEN_STATUSES


_OPEN_STATUSES = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})


class ExecType(StrEnum):
    NEW = "new"
    TRADE = "trade"
    CANCELED = "canceled"
    REJECTED = "rejected"
    REPLACED = "replaced"
    EXPIRED = "expired"  # the order's status is then canceled (a DAY order at the market close)


class SessionEventKind(StrEnum):
    LOGON = "logon"
    LOGON_REFUSED = "logon_refused"
    LOGOUT = "logout"
    DISCONNECT = "disconnect"


@dataclass(slots=True)
class OrderEvent:
    t_ns: int
    status: OrderStatus
    exec_type: ExecType
    exec_id: str
    text: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "t_ns": self.t_ns,
            "status": self.status.value,
            "exec_type": self.exec_type.value,
            "exec_id": self.exec_id,
            "text": self.text,
        }


@dataclass(slots=True)
class Order:
    """An order as the venue knows it; mutated only by the ledger."""

    order_id: str
    cl_ord_id: str
    sender_comp_id: str
    sender_sub_id: str | None
    instance: str
    symbol: str
    side: Side
    ord_type: OrdType
    tif: TimeInForce
    price: float | None
    qty: int
    received_ns: int
    status: OrderStatus = OrderStatus.NEW
    cum_qty: int = 0
    notional: float = 0.0
    fill_count: int = 0
    events: list[OrderEvent] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in _OPEN_STATUSES  # OrderStatus.is_open, one call less: read per order

    @property
    def leaves_qty(self) -> int:
        return self.qty - self.cum_qty if self.status in _OPEN_STATUSES else 0

    @property
    def avg_px(self) -> float:
        return round(self.notional / self.cum_qty, 8) if self.cum_qty else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "cl_ord_id": self.cl_ord_id,
            "sender_comp_id": self.sender_comp_id,
            "sender_sub_id": self.sender_sub_id,
            "instance": self.instance,
            "symbol": self.symbol,
            "side": self.side.value,
            "ord_type": self.ord_type.value,
            "tif": self.tif.value,
            "price": self.price,
            "qty": self.qty,
            "cum_qty": self.cum_qty,
            "leaves_qty": self.leaves_qty,
            "avg_px": self.avg_px,
            "status": self.status.value,
            "received_ns": self.received_ns,
            "events": [event.to_json() for event in self.events],
        }


@dataclass(slots=True, frozen=True)
class Fill:
    exec_id: str
    order_id: str
    cl_ord_id: str
    instance: str
    symbol: str
    side: Side
    qty: int
    price: float
    t_ns: int
    market: str | None = None  # LastMkt; None when the venue names no market

    def to_json(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "exec_id": self.exec_id,
            "order_id": self.order_id,
            "cl_ord_id": self.cl_ord_id,
            "instance": self.instance,
            "symbol": self.symbol,
            "side": self.side.value,
            "qty": self.qty,
            "price": self.price,
            "t_ns": self.t_ns,
        }
        if self.market is not None:
            view["market"] = self.market
        return view


@dataclass(slots=True)
class SessionRecord:
    """What the ledger knows of one FIX session (the live seqnums come from the session layer)."""

    sender_comp_id: str
    connected: bool = False
    logged_on: bool = False
    in_seq: int = 0
    out_seq: int = 0
    logons: int = 0
    last_logon_ns: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "sender_comp_id": self.sender_comp_id,
            "connected": self.connected,
            "logged_on": self.logged_on,
            "in_seq": self.in_seq,
            "out_seq": self.out_seq,
            "logons": self.logons,
            "last_logon_ns": self.last_logon_ns,
        }


def attribute_instance(sender_sub_id: str | None, cl_ord_id: str) -> str:
    """The OMS instance an order belongs to (contracts §2).

    SenderSubID when present; else the ClOrdID ``<instance>-<boot>-<n>`` minus its last two
    ``-`` parts (instance ids may contain ``-`` themselves); a ClOrdID with fewer parts falls
    back to its prefix before the first ``-``.
    """
    if sender_sub_id:
        return sender_sub_id
    parts = cl_ord_id.rsplit("-", 2)
    if len(parts) == 3 and parts[0]:
        return parts[0]
    return cl_ord_id.split("-", 1)[0]
