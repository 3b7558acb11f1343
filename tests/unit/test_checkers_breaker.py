from typing import Any

import pytest

from gameday.checkers.breaker import EntriesAfterHalt, TimeToFlat, TimeToHalt
from gameday.checkers.breaker_ledger import first_breach, first_flat, positioned_orders
from gameday.checkers.deploy_records import BreakerLimits
from gameday.checkers.ledger_timeline import LedgerTimeline
from gameday.history import OpType
from gameday.scenario import EqualsBound, MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import BLUE, fill, ledger, order, run_start, steady_orders
from tests.unit.history_builder import HistoryBuilder, ns

LIMITS = {"max_drawdown": 500.0}


def _fills(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Long 10 at 100, then marked down by fills at 90, 60 and 45: PnL 0, -100, -370, -520."""
    return [fill("e1", BLUE, 1.0, qty=10, price=100.0), fill("e2", BLUE, 2.0, side="sell", price=90.0),
            fill("e3", BLUE, 3.0, price=60.0), fill("e4", BLUE, 4.0, side="sell", price=45.0), *extra]


def _orders(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [order("o1", BLUE, 1.0, qty=10), order("o2", BLUE, 2.0, side="sell"), order("o3", BLUE, 3.0),
            order("o4", BLUE, 4.0, side="sell"), *extra]


def _history(orders: list[dict[str, Any]], fills: list[dict[str, Any]], *, halted_at: float | None = 4.05,
             ) -> HistoryBuilder:
    history = run_start(HistoryBuilder(), breaker=LIMITS)
    for second in range(1, 21):  # the workload runs 20 s
        history.place(at=float(second), outcome=OpType.OK)
    if halted_at is not None:
        history.alert("BreakerTripped", at=halted_at, instance=BLUE, reason="drawdown-limit")
    return ledger(history, orders, fills)


def _halted_and_flattened() -> HistoryBuilder:
    orders = _orders(order("o5", BLUE, 4.08, qty=2, status="canceled"),  # left before the halt
                     order("o6", BLUE, 4.3, qty=2, status="canceled"),   # an entry after it
                     order("o7", BLUE, 4.5, side="sell", qty=9, closed_s=4.6))  # the flatten
    return _history(orders, _fills(fill("e7", BLUE, 4.6, side="sell", qty=9, price=44.0)))


def test_the_ledger_pnl_breaches_at_the_fill_that_marks_the_drawdown() -> None:
    timeline = LedgerTimeline.model_validate({"orders": [], "fills": _fills()})

    breach = first_breach(timeline.sorted_fills(), BreakerLimits(max_drawdown=500.0))
    assert breach is not None
    assert (breach.exec_id, breach.pnl, breach.peak) == ("e4", -520.0, 0.0)
    loss = first_breach(timeline.sorted_fills(), BreakerLimits(max_loss=300.0))
    assert loss is not None
    assert loss.exec_id == "e3"
    assert first_breach(timeline.sorted_fills(), BreakerLimits(max_drawdown=1000.0)) is None


def test_a_halt_and_flatten_within_the_rtos() -> None:
    history = _halted_and_flattened()

    halt, flat = TimeToHalt().check(history.ops), TimeToFlat().check(history.ops)

    assert halt.value == pytest.approx(0.3)
    assert halt.evidence["entries_after_breach"] == 2
    assert halt.evidence["breach"]["exec_id"] == "e4"
    assert flat.value == pytest.approx(0.6)
    assert grade(MaxBound(max=1.0), halt) is Verdict.PASS
    assert grade(MaxBound(max=5.0), flat) is Verdict.PASS


def test_an_entry_after_the_halt_counts_and_one_on_the_wire_does_not() -> None:
    observation = EntriesAfterHalt().check(_halted_and_flattened().ops)

    assert observation.value == 1
    assert [entry["cl_ord_id"] for entry in observation.evidence["entries"]] == ["o6"]
    assert [entry["cl_ord_id"] for entry in observation.evidence["in_flight"]] == ["o5"]
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_no_entry_after_the_breach_halts_at_once() -> None:
    history = _history(_orders(order("o7", BLUE, 4.5, side="sell", qty=9, closed_s=4.6)),
                       _fills(fill("e7", BLUE, 4.6, side="sell", qty=9, price=44.0)))

    assert TimeToHalt().check(history.ops).value == 0.0
    assert EntriesAfterHalt().check(history.ops).value == 0


def test_a_disabled_breaker_never_halts_nor_flattens() -> None:
    entries = steady_orders(BLUE, 4.5, 19.5, 0.5)  # buys until the workload ends
    history = _history(_orders(*entries), _fills(), halted_at=None)

    halt, flat = TimeToHalt().check(history.ops), TimeToFlat().check(history.ops)

    assert halt.unbounded
    assert flat.unbounded
    assert grade(MaxBound(max=1.0), halt) is Verdict.FAIL
    assert grade(MaxBound(max=5.0), flat) is Verdict.FAIL
    assert EntriesAfterHalt().check(history.ops).value is None  # no halt to count from


def test_a_resting_order_keeps_the_book_from_being_flat() -> None:
    resting = order("o8", BLUE, 3.5, side="sell", status="new")
    history = _history(_orders(resting, order("o7", BLUE, 4.5, side="sell", qty=9, closed_s=4.6)),
                       _fills(fill("e7", BLUE, 4.6, side="sell", qty=9, price=44.0)))

    assert TimeToFlat().check(history.ops).unbounded


def test_flat_needs_every_symbol_flat() -> None:
    eth = order("eth", BLUE, 0.5, symbol="ETH-USD")
    timeline = LedgerTimeline.model_validate({
        "orders": _orders(eth), "fills": _fills(fill("x", BLUE, 0.5, symbol="ETH-USD"),
                                                fill("e7", BLUE, 4.6, side="sell", qty=9, price=44.0))})

    assert first_flat(timeline, ns(4.0)) is None
    assert first_flat(timeline, ns(0.1)) == ns(0.1)  # nothing traded yet


def test_orders_carry_their_symbol_position_at_receipt() -> None:
    timeline = LedgerTimeline.model_validate({"orders": _orders(), "fills": _fills()})

    positioned = positioned_orders(timeline)

    assert [entry.position for entry in positioned] == [10, 9, 10, 9]  # fills land with the receipt
    assert [entry.is_entry for entry in positioned] == [True, False, True, False]


def test_without_limits_or_ledger_it_is_unknown() -> None:
    no_limits = ledger(run_start(HistoryBuilder()), _orders(), _fills())
    no_breach = _history(_orders(), _fills()[:2])

    for checker in (TimeToHalt(), TimeToFlat()):
        assert checker.check(no_limits.ops).value is None
        assert checker.check(no_breach.ops).note == "the ledger PnL never breached the breaker's limits"
        assert checker.check(run_start(HistoryBuilder(), breaker=LIMITS).ops).value is None
