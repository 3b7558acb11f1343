"""Pre-trade risk limits set through the operator API (per symbol, largest order quantity).

Operators change them at run time; they are stored in Postgres, not replicated on NATS, so a
promoted DR knows them only if it syncs from the database (seed 002's out-of-band state).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from trading_stack.models import NewOrderRequest


class RiskLimitUpdate(BaseModel):
    """``PUT /admin/risk-limits`` body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    symbol: str = Field(min_length=1, max_length=32)
    max_order_qty: int = Field(gt=0)


class RiskLimits:
    def __init__(self) -> None:
        self._max_order_qty: dict[str, int] = {}

    def set(self, symbol: str, max_order_qty: int) -> None:
        self._max_order_qty[symbol] = max_order_qty

    def replace(self, limits: Mapping[str, int]) -> None:
        self._max_order_qty = dict(limits)

    def limit_of(self, symbol: str) -> int | None:
        return self._max_order_qty.get(symbol)

    def as_dict(self) -> dict[str, int]:
        return dict(self._max_order_qty)

    def refusal(self, request: NewOrderRequest) -> str | None:
        """Why the order breaches a limit, or ``None``."""
        limit = self._max_order_qty.get(request.symbol)
        if limit is not None and request.qty > limit:
            return f"quantity {request.qty} exceeds the {request.symbol} limit of {limit}"
        return None
