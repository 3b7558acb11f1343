"""Value objects of the cold-standby OMS: what a client asks for, the orders it tracks, the fills it books.

Loose input (a JSON body) is checked once, here, and becomes an :class:`OrderRequest`; everything
past this module works with enums and dataclasses, never with raw dicts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

MAX_SYMBOL_LENGTH = 32


E = TypeVar("E", bound=StrEnum)


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class Tif(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class Status(StrEnum):
    PENDING_NEW = "pending_new"  # sent, no answer yet (or the answer was lost: outcome unknown)
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"


OPEN_STATUSES = frozenset({Status.PENDING_NEW, Status.NEW, Status.PARTIALLY_FILLED})
_RANK = {Status.PENDING_NEW: 0, Status.NEW: 1, Status.PARTIALLY_FILLED: 2}  # terminal ones rank 3


def advance(current: Status, reported: Status) -> Status:
    """The status after a report: never out of a terminal one, never back from a partial fill."""
    if current not in OPEN_STATUSES:
        return current
    return reported if _RANK.get(reported, 3) >= _RANK[current] else current


class BadRequestError(ValueError):
    """A request body the OMS will not act on; the message names the field."""


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    qty: int
    type: OrderType
    price: float | None
    tif: Tif


_REQUEST_FIELDS = frozenset({"symbol", "side", "qty", "type", "price", "tif"})


def parse_order_request(body: Any) -> OrderRequest:
    """The order a ``POST /orders`` body asks for, or :class:`BadRequestError`."""
    if not isinstance(body, dict):
        raise BadRequestError("the body must be a JSON object")
    if unknown := sorted(set(body) - _REQUEST_FIELDS):
        raise BadRequestError(f"unknown field(s): {', '.join(map(str, unknown))}")
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not 0 < len(symbol) <= MAX_SYMBOL_LENGTH:
        raise BadRequestError(f"symbol: a non-empty string of at most {MAX_SYMBOL_LENGTH} characters")
    qty = body.get("qty")
    if not isinstance(qty, int) or isinstance(qty, bool) or qty <= 0:
        raise BadRequestError("qty: a positive integer (lots)")
    order_type = _member(OrderType, body.get("type"), "type")
    return OrderRequest(
        symbol=symbol,
        side=_member(Side, body.get("side"), "side"),
        qty=qty,
        type=order_type,
        price=_price(body.get("price"), order_type),
        tif=_member(Tif, body.get("tif", Tif.DAY.value), "tif"),
    )


def _member(kind: type[E], value: Any, name: str) -> E:
    try:
        return kind(value)
    except (ValueError, TypeError):
        choices = "|".join(member.value for member in kind)
        raise BadRequestError(f"{name}: one of {choices}, got {value!r}") from None


def _price(value: Any, order_type: OrderType) -> float | None:
    if order_type is OrderType.MARKET:
        if value is not None:
            raise BadRequestError("price: must be null for a market order")
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadRequestError("price: a positive number is required for a limit order")
    price = float(value)
    if not math.isfinite(price) or price <= 0:
        raise BadRequestError("price: a positive number is required for a limit order")
    return price


@dataclass
class Order:
    """An order this OMS sent (or learned of from the venue), as it last heard of it."""

    order_id: str  # the client order id this OMS chose
    symbol: str
    side: Side
    type: OrderType
    tif: Tif
    qty: int
    price: float | None
    instance: str
    status: Status = Status.PENDING_NEW
    cum_qty: int = 0
    exchange_order_id: str | None = None
    text: str | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def view(self) -> dict[str, Any]:
        """The Order JSON of the SUT contract."""
        return {
            "order_id": self.order_id,
            "exchange_order_id": self.exchange_order_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "qty": self.qty,
            "cum_qty": self.cum_qty,
            "status": self.status.value,
            "instance": self.instance,
            "price": self.price,
        }


@dataclass(frozen=True)
class Fill:
    """One execution booked into the positions; ``exec_id`` is the venue's, unique per fill."""

    exec_id: str
    order_id: str  # client order id
    symbol: str
    side: Side
    qty: int
    price: float
    t_ns: int

    @property
    def signed_qty(self) -> int:
        return self.qty if self.side is Side.BUY else -self.qty
