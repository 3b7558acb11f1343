"""Value objects shared by the OMS modules: orders, fills, execution reports, API bodies."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrdType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"


class OrderStatus(StrEnum):
    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)

    @property
    def is_done(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED)


class ExecType(StrEnum):
    NEW = "0"
    TRADE = "F"
    CANCELED = "4"
    REJECTED = "8"
    ORDER_STATUS = "I"
    OTHER = "?"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewOrderRequest(_Body):
    """``POST /orders`` body."""

    symbol: str = Field(min_length=1, max_length=32)
    side: Side
    qty: int = Field(gt=0)
    type: OrdType
    price: float | None = None
    tif: TimeInForce = TimeInForce.DAY

    @model_validator(mode="after")
    def _price_matches_type(self) -> NewOrderRequest:
        if self.type is OrdType.LIMIT and (self.price is None or self.price <= 0):
            raise ValueError("a limit order needs a positive price")
        if self.type is OrdType.MARKET and self.price is not None:
            raise ValueError("a market order takes no price")
        return self


class Order(BaseModel):
    """An order as the OMS knows it (``order_id`` is the ClOrdID)."""

    model_config = ConfigDict(extra="forbid")

    order_id: str
    exchange_order_id: str | None = None
    symbol: str
    side: Side
    qty: int
    cum_qty: int = 0
    status: OrderStatus
    instance: str
    price: float | None = None
    ord_type: OrdType = OrdType.LIMIT
    corr: str | None = None
    """the correlation id of the request that placed it (docs/contracts.md, "Observability")"""

    def api_dict(self) -> dict[str, object]:
        """The §4 Order shape."""
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


class Fill(BaseModel):
    """One trade report as the OMS booked it (``oms.fills``).

    ``venue`` is where the lots traded (LastMkt(30); None when the venue does not say),
    ``cum_qty`` and ``order_qty`` the order's CumQty(14) and OrderQty(38) after this trade
    (0 when unknown): what an OMS build needs to book the trade its own way.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    exec_id: str
    order_id: str
    exchange_order_id: str | None
    symbol: str
    side: Side
    qty: int
    price: float
    t_ns: int
    instance: str
    venue: str | None = None
    cum_qty: int = 0
    order_qty: int = 0


@dataclass(frozen=True)
class ExecutionReport:
    """A parsed ExecutionReport (35=8), independent of the FIX codec."""

    exec_type: ExecType
    ord_status: OrderStatus | None
    cl_ord_id: str
    orig_cl_ord_id: str | None
    order_id: str | None
    exec_id: str | None
    symbol: str
    side: Side | None
    qty: int
    price: float | None
    cum_qty: int
    leaves_qty: int
    last_qty: int
    last_px: float | None
    text: str | None
    owner_sub_id: str | None
    last_mkt: str | None = None
    avg_px: float | None = None
    mass_status_req_id: str | None = None
    tot_num_reports: int | None = None
    last_rpt_requested: bool = False


@dataclass(frozen=True)
class CancelReject:
    """A parsed OrderCancelReject (35=9)."""

    cl_ord_id: str
    orig_cl_ord_id: str | None
    order_id: str | None
    ord_status: OrderStatus | None
    text: str | None
