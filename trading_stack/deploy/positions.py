"""Position keeping: signed lots, average cost and realised PnL (pure: no I/O, no clock)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from trading_stack.models import Side

__all__ = ["Position", "VenueFill", "apply_fill"]


class VenueFill(BaseModel):
    """One trade report of an order, as both OMS builds receive it.

    ``cum_qty`` is the order's cumulative filled quantity over every venue it traded on
    (FIX CumQty(14)); ``venue`` is where this part traded (FIX LastMkt(30)).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    exec_id: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    venue: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    side: Side
    last_qty: int = Field(gt=0)
    last_px: float = Field(gt=0, allow_inf_nan=False)
    cum_qty: int = Field(gt=0)
    order_qty: int = Field(gt=0)
    t_ns: int = Field(ge=0)

    @model_validator(mode="after")
    def _quantities_agree(self) -> VenueFill:
        if not self.last_qty <= self.cum_qty <= self.order_qty:
            got = f"{self.last_qty}, {self.cum_qty}, {self.order_qty}"
            raise ValueError(f"expected last_qty <= cum_qty <= order_qty, got {got}")
        return self


@dataclass(frozen=True, slots=True)
class Position:
    """Net signed lots of one symbol, their average cost, and the PnL realised so far."""

    symbol: str
    qty: int = 0
    avg_price: float = 0.0
    realized_pnl: float = 0.0

    def unrealized_pnl(self, mark: float) -> float:
        return self.qty * (mark - self.avg_price) if self.qty else 0.0

    def total_pnl(self, mark: float) -> float:
        return self.realized_pnl + self.unrealized_pnl(mark)


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def apply_fill(position: Position, signed_qty: int, price: float) -> Position:
    """Book ``signed_qty`` lots (buy > 0, sell < 0) at ``price`` on the average-cost method.

    Adding to a position moves the average cost; reducing it realises PnL against the
    average cost; crossing zero realises the closed part and opens the rest at ``price``.
    """
    if not math.isfinite(price) or price <= 0:
        raise ValueError(f"expected a positive finite price, got {price}")
    if signed_qty == 0:
        return position
    held = position.qty
    new_qty = held + signed_qty
    if held == 0 or _sign(held) == _sign(signed_qty):
        avg = (abs(held) * position.avg_price + abs(signed_qty) * price) / abs(new_qty)
        return Position(position.symbol, new_qty, avg, position.realized_pnl)
    closed = min(abs(held), abs(signed_qty))
    realized = position.realized_pnl + _sign(held) * closed * (price - position.avg_price)
    if new_qty == 0:
        avg = 0.0
    elif _sign(new_qty) == _sign(held):
        avg = position.avg_price
    else:
        avg = price
    return Position(position.symbol, new_qty, avg, realized)
