import pytest

from gameday.checkers import observe
from gameday.checkers.base import Checker
from gameday.checkers.risk import RestingOrdersCancelled, RiskLimitBreaches
from gameday.history import OpType
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ledger_order, ns, resting_order

BREACHES = RiskLimitBreaches()
RESTING = RestingOrdersCancelled()


def _limit(history: HistoryBuilder, max_qty: object, *, at: float, symbol: str = "BTC-USD",
           outcome: OpType = OpType.OK) -> HistoryBuilder:
    value = {"instance": "oms-primary", "symbol": symbol, "max_order_qty": max_qty}
    return history.action("risk-limit", value, at=at, outcome=outcome)


def _limited(max_qty: object = 10) -> HistoryBuilder:
    history = _limit(HistoryBuilder().run_start(), max_qty, at=5.0)
    return history.fault("kill", at=10.0, target="oms-primary")


LEDGER = [
    ledger_order("oms-primary-1-1", "oms-primary", 3.0, qty=50, status="filled"),
    ledger_order("oms-primary-1-2", "oms-primary", 6.0, qty=5, status="filled"),
    ledger_order("oms-primary-1-3", "oms-primary", 7.0, qty=10, status="filled"),
    ledger_order("oms-dr-1-1", "oms-dr", 14.0, qty=11, status="new"),
    ledger_order("oms-dr-1-2", "oms-dr", 15.0, symbol="ETH-USD", qty=100, status="filled"),
]


def test_an_order_above_the_limit_after_it_was_set_is_a_breach() -> None:
    observation = BREACHES.check(_limited().ledger(orders=LEDGER).ops)

    assert observation.value == 1
    assert observation.evidence["breaches"] == [{
        "cl_ord_id": "oms-dr-1-1", "instance": "oms-dr", "symbol": "BTC-USD", "qty": 11, "limit": 10,
        "status": "new", "received": {"t_ns": ns(14.0), "after_s": 3.999}, "after_limit_s": 8.999,
    }]
    assert observation.evidence["limits"]["BTC-USD"]["set"]["t_ns"] == ns(5.001)
    assert observation.evidence["orders_checked"] == 3
    assert observation.note == "1 of 3 orders after the limits were above them; BTC-USD 1"
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_orders_within_the_limit_pass() -> None:
    observation = BREACHES.check(_limited(11).ledger(orders=LEDGER).ops)

    assert observation.value == 0
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


def test_the_latest_limit_of_a_symbol_by_time_is_the_one_in_force() -> None:
    history = _limit(HistoryBuilder(), 100, at=8.0)
    _limit(history, 10, at=5.0)
    history.ledger(orders=[*LEDGER, ledger_order("late", "oms-dr", 16.0, qty=101)])

    observation = BREACHES.check(history.ops)

    assert observation.evidence["limits"]["BTC-USD"]["max_order_qty"] == 100
    assert [breach["cl_ord_id"] for breach in observation.evidence["breaches"]] == ["late"]


def test_an_order_received_at_the_instant_the_limit_was_set_is_not_held_to_it() -> None:
    history = _limited().ledger(orders=[ledger_order("same-instant", "oms-primary", 5.001, qty=99)])

    observation = BREACHES.check(history.ops)

    assert (observation.value, observation.evidence["orders_checked"]) == (0, 0)


def test_a_failed_risk_limit_action_or_no_ledger_is_unknown() -> None:
    failed = _limit(HistoryBuilder(), 10, at=5.0, outcome=OpType.FAIL).ledger(orders=LEDGER)

    assert BREACHES.check(failed.ops).value is None
    assert BREACHES.check(failed.ops).note == "no risk-limit action succeeded in this run"
    assert BREACHES.check(_limited().ops).note == "no ledger snapshot in the history"
    assert grade(EqualsBound(equals=0), BREACHES.check(_limited().ops)) is Verdict.UNKNOWN


def _resting(history: HistoryBuilder, *orders: dict[str, object], at: float = 2.0) -> HistoryBuilder:
    return history.action("resting-orders", {"instance": "oms-primary", "orders": list(orders)}, at=at)


RESTING_LEDGER = [
    ledger_order("r1", "oms-primary", 2.0, status="canceled"),
    ledger_order("r2", "oms-primary", 2.0, status="new"),
    ledger_order("r3", "oms-primary", 2.0, status="canceled", symbol="ETH-USD"),
]


def test_resting_orders_the_ledger_shows_canceled_are_counted_and_listed() -> None:
    history = _resting(HistoryBuilder(), resting_order("r1", exchange_order_id="X-r1"), resting_order("r2"))
    _resting(history, resting_order("r3", exchange_order_id="unknown-to-venue", symbol="ETH-USD"),
             resting_order("r4", exchange_order_id="X-r4"), at=3.0)
    history.ledger(orders=RESTING_LEDGER)

    observation = RESTING.check(history.ops)

    assert observation.value == 2
    assert [(o["order_id"], o["symbol"], o["instance"]) for o in observation.evidence["canceled"]] == [
        ("r1", "BTC-USD", "oms-primary"), ("r3", "ETH-USD", "oms-primary")]
    assert [(o["order_id"], o["status"]) for o in observation.evidence["not_canceled"]] == [("r2", "new")]
    assert [o["order_id"] for o in observation.evidence["missing"]] == ["r4"]
    assert observation.note == "2 of 3 resting orders canceled at the venue; 1 not in the ledger"
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_the_venue_id_wins_over_the_oms_id_when_both_match_different_orders() -> None:
    ledger = [ledger_order("r1", "oms-primary", 2.0, status="new"),
              {**ledger_order("other", "oms-primary", 2.0, status="canceled"), "order_id": "V-9"}]
    history = _resting(HistoryBuilder(), resting_order("r1", exchange_order_id="V-9")).ledger(orders=ledger)

    assert RESTING.check(history.ops).value == 1


def test_resting_orders_still_resting_pass() -> None:
    history = _resting(HistoryBuilder(), resting_order("r2")).ledger(orders=RESTING_LEDGER)

    observation = RESTING.check(history.ops)

    assert observation.value == 0
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


def test_no_resting_order_found_in_the_ledger_is_unknown_with_the_missing_ones() -> None:
    history = _resting(HistoryBuilder(), resting_order("r8"), resting_order("r9"))
    history.ledger(orders=RESTING_LEDGER)

    observation = RESTING.check(history.ops)

    assert observation.value is None
    assert observation.note == "none of the 2 resting orders is in the ledger"
    assert [o["order_id"] for o in observation.evidence["missing"]] == ["r8", "r9"]


def test_no_resting_orders_action_or_no_ledger_is_unknown() -> None:
    only_ledger = HistoryBuilder().ledger(orders=RESTING_LEDGER)
    only_action = _resting(HistoryBuilder(), resting_order("r1"))

    assert RESTING.check(only_ledger.ops).note == "no resting-orders action succeeded in this run"
    assert RESTING.check(only_action.ops).note == "no ledger snapshot in the history"


@pytest.mark.parametrize(("checker", "history", "complaint"), [
    (BREACHES, _limited("ten").ledger(orders=LEDGER), "max_order_qty"),
    (BREACHES, _limited(-1).ledger(orders=LEDGER), "max_order_qty"),
    (RESTING, _resting(HistoryBuilder(), {**resting_order("r1"), "side": "hold"}).ledger(orders=LEDGER),
     "side"),
    (RESTING, HistoryBuilder().action("resting-orders", {"orders": []}, at=1.0).ledger(), "instance"),
])
def test_a_malformed_action_grades_unknown_with_the_error(checker: Checker, history: HistoryBuilder,
                                                          complaint: str) -> None:
    observation = observe(checker, history.ops)

    assert observation.error is not None
    assert "CheckerError" in observation.error
    assert complaint in observation.error
    assert grade(EqualsBound(equals=0), observation) is Verdict.UNKNOWN
