"""The business rules a well-formed order (or replace) must meet to be accepted, protocol-neutral.

A known symbol, a positive quantity within the venue's ``max_order_qty``, and for a limit order
a positive price within ``max_price`` on the symbol's tick. A refusal is the reject text the
order goes back with (FIX 58, a rejected WebSocket order) and the ledger keeps; it never quotes
the refused number itself, which may be as long as a request can make it.
"""

from __future__ import annotations

from collections.abc import Mapping

from mock_exchange.config import VenueConfig
from mock_exchange.model import OrdType
from mock_exchange.prices import PriceProcess


class OrderRules:
    """The venue's order limits, over its symbols' price processes (for their ticks)."""

    def __init__(self, config: VenueConfig, prices: Mapping[str, PriceProcess]) -> None:
        self._prices = prices
        self._max_qty = config.max_order_qty
        self._max_price = config.max_price

    def refusal(self, symbol: str, qty: int, ord_type: OrdType, price: float | None) -> str | None:
        """Why a well-formed order is refused (business rules), else ``None``."""
        process = self._prices.get(symbol)
        if process is None:
            return f"unknown symbol {_shortened(symbol)}"
        if qty <= 0:
            return "OrderQty must be a positive integer"
        if qty > self._max_qty:
            return f"OrderQty above the venue's maximum of {self._max_qty} lots"
        if ord_type is OrdType.LIMIT:
            if price is None or not price > 0:
                return "limit order needs a positive Price"
            if price > self._max_price:
                return f"Price above the venue's maximum of {self._max_price:g}"
            if not process.is_on_tick(price):
                return f"Price {price} is not on the {symbol} tick"
        return None


_MAX_QUOTED = 64


def _shortened(text: str) -> str:
    return text if len(text) <= _MAX_QUOTED else f"{text[:_MAX_QUOTED]}... ({len(text)} chars)"
