"""The ``slippage`` exchange fault: one session's market orders fill worse than the touch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_exchange.book import MatchingEngine, NewOrderRequest
from mock_exchange.config import SymbolConfig, VenueConfig
from mock_exchange.faults import FaultKind, FaultParamsError, Slippage, parse_fault
from mock_exchange.ledger import Ledger
from mock_exchange.model import OrdType, Side, TimeInForce


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.jsonl") as opened:
        yield opened


@pytest.fixture
def engine(tmp_path: Path, ledger: Ledger) -> MatchingEngine:
    symbol = SymbolConfig(symbol="BTC-USD", start_price=100.0, volatility_bps=0.0)
    config = VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "ledger.jsonl",
                         fill_probability=1.0, symbols=(symbol,))
    return MatchingEngine(config, ledger)


def _order(cl_ord_id: str, session: str, side: Side, price: float | None = None) -> NewOrderRequest:
    return NewOrderRequest(cl_ord_id=cl_ord_id, sender_comp_id=session, sender_sub_id=session.lower(),
                           symbol="BTC-USD", side=side, tif=TimeInForce.DAY, price=price, qty=3,
                           ord_type=OrdType.MARKET if price is None else OrdType.LIMIT)


def _fill_prices(engine: MatchingEngine) -> dict[str, float]:
    prices: dict[str, float] = {}
    for _ in range(100):
        for execution in engine.step():
            if execution.last_px is not None:
                prices[execution.order.cl_ord_id] = execution.last_px
    return prices


def test_only_the_named_sessions_market_orders_fill_worse_than_the_touch(engine: MatchingEngine) -> None:
    engine.faults.arm(parse_fault(FaultKind.SLIPPAGE, {"session": "OMS-GREEN", "bps": 50}))
    quote = engine.prices["BTC-USD"].quote
    engine.submit(_order("g-buy", "OMS-GREEN", Side.BUY))
    engine.submit(_order("g-sell", "OMS-GREEN", Side.SELL))
    engine.submit(_order("g-limit", "OMS-GREEN", Side.BUY, price=101.0))
    engine.submit(_order("b-buy", "OMS-BLUE", Side.BUY))

    prices = _fill_prices(engine)

    assert prices == pytest.approx({"g-buy": quote.ask * 1.005, "g-sell": quote.bid * 0.995, "g-limit": 101.0,
                                    "b-buy": quote.ask})


def test_a_slippage_fault_needs_a_finite_positive_bound() -> None:
    assert parse_fault(FaultKind.SLIPPAGE, {"bps": 20}) == Slippage(bps=20.0)
    for bad in (0, -1, float("nan"), 1e9):
        with pytest.raises(FaultParamsError, match="bps"):
            parse_fault(FaultKind.SLIPPAGE, {"bps": bad})
