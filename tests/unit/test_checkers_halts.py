"""orders.sent_into_halt and orders.outside_band: the venue's halts and bands against its orders."""

from __future__ import annotations

from typing import Any

from gameday.checkers.halts import OrdersOutsideBand, OrdersSentIntoHalt
from gameday.history import OpKind, OpType
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ledger_order, ns

INTO_HALT = OrdersSentIntoHalt()
OUTSIDE_BAND = OrdersOutsideBand()


def _status(symbol: str, state: str, at: float, *causes: str, band: tuple[float, float] | None = None,
            ) -> dict[str, Any]:
    status: dict[str, Any] = {"kind": "status", "t_ns": ns(at), "symbol": symbol, "state": state,
                              "causes": list(causes), "text": ""}
    if band is not None:
        status["band"] = {"reference": sum(band) / 2, "lower": band[0], "upper": band[1]}
    return status


def _rejected(cl_ord_id: str, instance: str, at: float, text: str, **more: Any) -> dict[str, Any]:
    return {**ledger_order(cl_ord_id, instance, at, status="rejected", **more), "events": [{"text": text}]}


def _history(orders: list[dict[str, Any]], statuses: list[dict[str, Any]] | None) -> HistoryBuilder:
    history = HistoryBuilder().run_start()
    value: dict[str, Any] = {"orders": orders, "fills": [], "now_ns": ns(30.0)}
    if statuses is not None:
        value["trading_status"] = statuses
    return history.add(OpKind.LEDGER, OpType.OK, "venue", "snapshot", value, at=30.0)


HALT = [_status("BTC-USD", "halted", 5.0, "fault"), _status("BTC-USD", "trading", 10.0)]


def test_orders_after_the_halt_was_known_and_before_it_lifted_count() -> None:
    orders = [
        _rejected("a", "oms-primary", 5.2, "Trading halted: BTC-USD"),  # in flight when it halted
        _rejected("b", "oms-primary", 6.0, "Trading halted: BTC-USD"),
        _rejected("c", "oms-primary", 6.25, "Trading halted: BTC-USD"),
        ledger_order("d", "oms-primary", 6.5, symbol="ETH-USD"),  # another symbol trades
        ledger_order("e", "oms-primary", 10.0),  # lifted
    ]
    observation = INTO_HALT.check(_history(orders, HALT).ops)
    assert observation.value == 2
    assert [order["order_id"] for order in observation.evidence["orders"]] == ["X-b", "X-c"]
    assert observation.evidence["per_instance"] == {"oms-primary BTC-USD": 2}
    assert observation.evidence["halts"][0]["causes"] == ["fault"]
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_a_halt_no_order_met_passes_and_one_never_lifted_holds_to_the_end() -> None:
    statuses = [*HALT, _status("ETH-USD", "halted", 20.0, "limit_up")]
    orders = [ledger_order("late", "oms-dr", 29.0, symbol="ETH-USD", status="rejected")]
    assert INTO_HALT.check(_history(orders, statuses).ops).value == 1
    observation = INTO_HALT.check(_history([], statuses).ops)
    assert observation.value == 0
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


def test_two_causes_overlapping_are_one_halt_until_the_symbol_trades_again() -> None:
    statuses = [_status("BTC-USD", "halted", 5.0, "replay"),
                _status("BTC-USD", "halted", 6.0, "replay", "session"),
                _status("BTC-USD", "halted", 7.0, "session"), _status("BTC-USD", "trading", 8.0)]
    orders = [ledger_order("x", "oms-blue", 7.5)]
    observation = INTO_HALT.check(_history(orders, statuses).ops)
    assert observation.value == 1
    assert observation.evidence["halts"][0]["causes"] == ["replay", "session"]


def test_without_trading_status_or_without_a_halt_the_verdict_is_unknown() -> None:
    for statuses, note in ((None, "holds no trading status"), ([], "halted no symbol")):
        observation = INTO_HALT.check(_history([], statuses).ops)
        assert observation.value is None
        assert note in observation.note
        assert grade(EqualsBound(equals=0), observation) is Verdict.UNKNOWN


def test_band_rejects_count_once_the_band_had_been_announced() -> None:
    statuses = [_status("BTC-USD", "trading", 5.0, band=(95.0, 105.0))]
    text = "Price outside the limit-up/limit-down band: BTC-USD sell below 95"
    orders = [_rejected("early", "oms-primary", 5.1, text, side="sell"),
              _rejected("late", "oms-primary", 7.0, text, side="sell"),
              _rejected("halt", "oms-primary", 7.0, "Trading halted: BTC-USD")]
    observation = OUTSIDE_BAND.check(_history(orders, statuses).ops)
    assert observation.value == 1
    assert observation.evidence["orders"][0]["order_id"] == "X-late"
    assert OUTSIDE_BAND.check(_history(orders, HALT).ops).value is None  # no band: unknown
