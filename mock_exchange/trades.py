"""How a trade is recorded and reported: whole, or in pieces at several markets.

With ``VenueConfig.max_fill_lots`` a trade above that many lots is recorded as several fills of
at most that many lots; with ``VenueConfig.markets`` (not the default) every fill names the
order's next market in turn, whatever the trade it belongs to. Each piece is its own ledger fill
and its own report, carrying the order's state right after it (CumQty, AvgPx grow piece by piece).
"""

from __future__ import annotations

from mock_exchange.config import VenueConfig
from mock_exchange.executions import Execution, OrderState
from mock_exchange.ledger import Ledger
from mock_exchange.model import ExecType, Order


def split_lots(qty: int, max_lots: int | None) -> list[int]:
    """``qty`` in pieces of ``max_lots`` (the last one the remainder); whole when unbounded."""
    if max_lots is None or qty <= max_lots:
        return [qty]
    whole, rest = divmod(qty, max_lots)
    return [max_lots] * whole + ([rest] if rest else [])


class TradeRecorder:
    """Records each trade of one venue as the pieces it reports."""

    def __init__(self, ledger: Ledger, *, markets: tuple[str, ...] | None, max_fill_lots: int | None) -> None:
        self._ledger = ledger
        self._markets = markets
        self._max_fill_lots = max_fill_lots

    @classmethod
    def for_venue(cls, config: VenueConfig, ledger: Ledger) -> TradeRecorder | None:
        """The recorder the venue's settings ask for; ``None``: one plain fill per trade."""
        if not config.reports_market and config.max_fill_lots is None:
            return None
        markets = config.markets if config.reports_market else None
        return cls(ledger, markets=markets, max_fill_lots=config.max_fill_lots)

    def record(self, order: Order, *, qty: int, price: float, t_ns: int) -> list[Execution]:
        executions = []
        for lots in split_lots(qty, self._max_fill_lots):
            market = self._next_market(order)
            fill = self._ledger.record_fill(order, qty=lots, price=price, t_ns=t_ns, market=market)
            executions.append(
                Execution(
                    order,
                    ExecType.TRADE,
                    fill.exec_id,
                    last_qty=lots,
                    last_px=price,
                    last_mkt=market,
                    state=OrderState.of(order),
                )
            )
        return executions

    def _next_market(self, order: Order) -> str | None:
        if self._markets is None:
            return None
        return self._markets[order.fill_count % len(self._markets)]
