"""Matching engine: seeded prices, probabilistic partial fills, IOC, cancels, validation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_exchange.book import CancelRejection, CancelRejectReason, Execution, MatchingEngine, NewOrderRequest
from mock_exchange.config import SymbolConfig, VenueConfig
from mock_exchange.ledger import Ledger
from mock_exchange.model import ExecType, OrderStatus, OrdType, Side, TimeInForce
from mock_exchange.prices import PriceProcess


def _config(tmp_path: Path, **overrides: Any) -> VenueConfig:
    values: dict[str, Any] = {
        "fix_port": 0,
        "admin_port": 0,
        "ledger_path": tmp_path / "ledger.jsonl",
        "fill_probability": 1.0,
        "symbols": (SymbolConfig(symbol="BTC-USD", start_price=100.0, volatility_bps=0.0),),
    }
    values.update(overrides)
    return VenueConfig(**values)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.jsonl") as opened:
        yield opened


def _request(cl_ord_id: str = "oms-a-1-1", **overrides: Any) -> NewOrderRequest:
    values: dict[str, Any] = {
        "cl_ord_id": cl_ord_id,
        "sender_comp_id": "OMS-A",
        "sender_sub_id": "oms-a",
        "symbol": "BTC-USD",
        "side": Side.BUY,
        "ord_type": OrdType.LIMIT,
        "tif": TimeInForce.DAY,
        "price": 101.0,
        "qty": 1000,
    }
    values.update(overrides)
    return NewOrderRequest(**values)


def _run_until_done(engine: MatchingEngine, steps: int = 10_000) -> list[Execution]:
    executions: list[Execution] = []
    for _ in range(steps):
        executions += engine.step()
    return executions


def test_quote_brackets_the_mid_on_tick(tmp_path: Path) -> None:
    process = PriceProcess(SymbolConfig(symbol="X", start_price=100.0, spread_ticks=2), seed=1)
    for _ in range(200):
        quote = process.step()
        assert quote.ask == pytest.approx(quote.bid + 0.02)
        assert process.is_on_tick(quote.bid)
        assert process.is_on_tick(quote.ask)


def test_price_paths_are_seeded_and_differ_per_symbol() -> None:
    def path(seed: int, symbol: str) -> list[float]:
        process = PriceProcess(SymbolConfig(symbol=symbol, start_price=100.0, volatility_bps=5.0), seed)
        return [process.step().bid for _ in range(50)]

    assert path(3, "A") == path(3, "A")
    assert path(3, "A") != path(4, "A")
    assert path(3, "A") != path(3, "B")


def test_marketable_limit_fills_in_partials_at_its_price(tmp_path: Path, ledger: Ledger) -> None:
    engine = MatchingEngine(_config(tmp_path), ledger)
    [ack] = engine.submit(_request())
    assert (ack.exec_type, ack.order.status) == (ExecType.NEW, OrderStatus.NEW)
    trades = _run_until_done(engine, steps=200)
    order = ack.order
    assert order.status is OrderStatus.FILLED
    assert len(trades) > 1
    assert sum(trade.last_qty for trade in trades) == 1000
    assert {trade.last_px for trade in trades} == {101.0}
    assert ledger.fills[0].instance == "oms-a"
    assert [event.status for event in order.events][1:-1] == [OrderStatus.PARTIALLY_FILLED] * (
        len(trades) - 1
    )


def test_non_marketable_limit_never_fills(tmp_path: Path, ledger: Ledger) -> None:
    engine = MatchingEngine(_config(tmp_path), ledger)
    [ack] = engine.submit(_request(price=99.0))
    [sell_ack] = engine.submit(_request("oms-a-1-2", side=Side.SELL, price=101.0))
    assert _run_until_done(engine, steps=100) == []
    assert ack.order.is_open
    assert sell_ack.order.is_open


def test_fill_probability_zero_means_no_fills(tmp_path: Path, ledger: Ledger) -> None:
    engine = MatchingEngine(_config(tmp_path, fill_probability=0.0), ledger)
    engine.submit(_request())
    assert _run_until_done(engine, steps=100) == []


def test_market_orders_fill_at_the_touch(tmp_path: Path, ledger: Ledger) -> None:
    engine = MatchingEngine(_config(tmp_path), ledger)
    quote = engine.prices["BTC-USD"].quote
    engine.submit(_request("buy", ord_type=OrdType.MARKET, price=None, qty=5))
    engine.submit(_request("sell", side=Side.SELL, ord_type=OrdType.MARKET, price=None, qty=5))
    trades = _run_until_done(engine, steps=100)
    prices = {trade.order.cl_ord_id: trade.last_px for trade in trades}
    assert prices == {"buy": quote.ask, "sell": quote.bid}
    assert ledger.order_by_cl_ord_id("buy") is not None
    assert all(not order.is_open for order in ledger.orders.values())
    assert all(order.price is None for order in ledger.orders.values())


def test_ioc_fills_what_it_can_at_once_and_cancels_the_rest(tmp_path: Path, ledger: Ledger) -> None:
    engine = MatchingEngine(_config(tmp_path), ledger)
    executions = engine.submit(_request(tif=TimeInForce.IOC, qty=1000))
    assert [execution.exec_type for execution in executions] == [
        ExecType.NEW,
        ExecType.TRADE,
        ExecType.CANCELED,
    ]
    order = executions[0].order
    assert order.status is OrderStatus.CANCELED
    assert 0 < order.cum_qty < 1000
    assert order.leaves_qty == 0
    assert ledger.open_orders == {}


def test_non_marketable_ioc_is_canceled_unfilled(tmp_path: Path, ledger: Ledger) -> None:
    engine = MatchingEngine(_config(tmp_path), ledger)
    executions = engine.submit(_request(tif=TimeInForce.IOC, price=50.0))
    assert [execution.exec_type for execution in executions] == [ExecType.NEW, ExecType.CANCELED]
    assert executions[0].order.cum_qty == 0


def test_cancel_open_unknown_and_done_orders(tmp_path: Path, ledger: Ledger) -> None:
    engine = MatchingEngine(_config(tmp_path, fill_probability=0.0), ledger)
    engine.submit(_request(price=50.0))
    canceled = engine.cancel("oms-a-1-1", order_id=None, cancel_cl_ord_id="c1", requested_by="OMS-B")
    assert isinstance(canceled, Execution)
    assert (canceled.exec_type, canceled.order.status) == (ExecType.CANCELED, OrderStatus.CANCELED)
    assert canceled.requested_by == "OMS-B"
    again = engine.cancel("oms-a-1-1", order_id=None, cancel_cl_ord_id="c2", requested_by="OMS-A")
    assert isinstance(again, CancelRejection)
    assert again.reason is CancelRejectReason.TOO_LATE_TO_CANCEL
    unknown = engine.cancel("nope", order_id=None, cancel_cl_ord_id="c3", requested_by="OMS-A")
    assert isinstance(unknown, CancelRejection)
    assert (unknown.reason, unknown.order) == (CancelRejectReason.UNKNOWN_ORDER, None)


def test_cancel_on_disconnect_only_touches_that_sessions_orders(tmp_path: Path, ledger: Ledger) -> None:
    engine = MatchingEngine(_config(tmp_path, fill_probability=0.0), ledger)
    engine.submit(_request("a-1-1", price=50.0))
    engine.submit(_request("b-1-1", price=50.0, sender_comp_id="OMS-B"))
    canceled = engine.cancel_orders_of_session("OMS-B", text="cod")
    assert [execution.order.cl_ord_id for execution in canceled] == ["b-1-1"]
    assert [order.cl_ord_id for order in ledger.open_orders.values()] == ["a-1-1"]


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"symbol": "DOGE-USD"}, "unknown symbol"),
        ({"qty": 0}, "positive"),
        ({"price": 100.005}, "tick"),
        ({"price": -1.0}, "positive Price"),
    ],
)
def test_invalid_orders_are_recorded_as_rejected(
    tmp_path: Path, ledger: Ledger, overrides: dict[str, Any], text: str
) -> None:
    engine = MatchingEngine(_config(tmp_path), ledger)
    [reject] = engine.submit(_request(**overrides))
    assert reject.exec_type is ExecType.REJECTED
    assert reject.text is not None
    assert text in reject.text
    assert reject.order.status is OrderStatus.REJECTED
    assert ledger.open_orders == {}


def test_same_seed_gives_the_same_fills(tmp_path: Path) -> None:
    def fills(directory: Path) -> list[tuple[int, float]]:
        directory.mkdir()
        config = _config(
            directory, fill_probability=0.5, symbols=(SymbolConfig(symbol="BTC-USD", start_price=100.0),)
        )
        with Ledger.open(config.ledger_path) as ledger:
            engine = MatchingEngine(config, ledger)
            engine.submit(_request(price=100.05, qty=500))
            return [(trade.last_qty, trade.last_px) for trade in _run_until_done(engine, steps=300)]

    first = fills(tmp_path / "one")
    assert first
    assert first == fills(tmp_path / "two")
