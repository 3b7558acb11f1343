"""Trades in pieces at several markets: the settings, the split, the ledger lines and replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mock_exchange.config import VenueConfig
from mock_exchange.executions import OrderState
from mock_exchange.ledger import Ledger
from mock_exchange.model import Order, OrderStatus, OrdType, Side, TimeInForce
from mock_exchange.trades import TradeRecorder, split_lots


def _config(tmp_path: Path, **overrides: Any) -> VenueConfig:
    return VenueConfig(fix_port=0, admin_port=0, ledger_path=tmp_path / "ledger.jsonl", **overrides)


def _order(qty: int) -> Order:
    return Order(
        order_id="O1",
        cl_ord_id="a-1-1",
        sender_comp_id="A",
        sender_sub_id="a",
        instance="a",
        symbol="BTC-USD",
        side=Side.BUY,
        ord_type=OrdType.MARKET,
        tif=TimeInForce.DAY,
        price=None,
        qty=qty,
        received_ns=1,
    )


@pytest.mark.parametrize(
    ("qty", "max_lots", "pieces"),
    [(5, 2, [2, 2, 1]), (6, 2, [2, 2, 2]), (2, 2, [2]), (1, 3, [1]), (7, None, [7])],
)
def test_split_lots(qty: int, max_lots: int | None, pieces: list[int]) -> None:
    assert split_lots(qty, max_lots) == pieces


def test_defaults_need_no_recorder_and_bad_settings_are_refused(tmp_path: Path) -> None:
    default = _config(tmp_path)
    assert (default.markets, default.max_fill_lots, default.reports_market) == (("MOCKEX",), None, False)
    with Ledger.open(tmp_path / "ledger.jsonl") as ledger:
        assert TradeRecorder.for_venue(default, ledger) is None
        assert TradeRecorder.for_venue(_config(tmp_path, max_fill_lots=1), ledger) is not None
    assert _config(tmp_path, markets=["XNAS"]).reports_market
    bad: dict[str, Any]
    for bad in ({"markets": []}, {"markets": ["X=1"]}, {"markets": ["A\x01"]}, {"max_fill_lots": 0}):
        with pytest.raises(ValidationError):
            _config(tmp_path, **bad)


def test_pieces_are_ledger_fills_with_markets_in_turn_and_replay_the_same(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    with Ledger.open(path) as ledger:
        order = ledger.record_order(_order(qty=7))
        recorder = TradeRecorder(ledger, markets=("XNAS", "ARCX"), max_fill_lots=2)
        first = recorder.record(order, qty=5, price=100.0, t_ns=10)
        second = recorder.record(order, qty=2, price=101.0, t_ns=11)
        written = [fill.to_json() for fill in ledger.fills]

    assert [(e.last_qty, e.last_mkt) for e in first + second] == [
        (2, "XNAS"),
        (2, "ARCX"),
        (1, "XNAS"),
        (2, "ARCX"),
    ]
    assert [e.state for e in first + second] == [
        OrderState(OrderStatus.PARTIALLY_FILLED, 2, 5, 100.0),
        OrderState(OrderStatus.PARTIALLY_FILLED, 4, 3, 100.0),
        OrderState(OrderStatus.PARTIALLY_FILLED, 5, 2, 100.0),
        OrderState(OrderStatus.FILLED, 7, 0, round(702 / 7, 8)),
    ]
    with Ledger.open(path) as replayed:
        assert [fill.to_json() for fill in replayed.fills] == written
        assert replayed.orders["O1"].fill_count == 4
    assert [fill["market"] for fill in written] == ["XNAS", "ARCX", "XNAS", "ARCX"]
