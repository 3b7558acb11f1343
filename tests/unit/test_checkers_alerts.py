import pytest

from gameday.checkers import observe
from gameday.checkers.alerts import MAX_LISTED_ALERTS, AlertTotal, UnknownOpenOrders
from gameday.checkers.base import Checker
from gameday.scenario import EqualsBound, MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ns

UNKNOWN = UnknownOpenOrders()
TOTAL = AlertTotal()


def _promoted_dr() -> HistoryBuilder:
    history = HistoryBuilder().run_start().fault("kill", at=10.0, target="oms-primary")
    return history.sut("roles", {"instance": "oms-dr", "role": "active", "epoch": 2, "reason": "promoted"},
                       at=12.0)


def _ghost(history: HistoryBuilder, order_id: str, *, at: float, symbol: str = "BTC-USD") -> HistoryBuilder:
    return history.alert("UnknownOpenOrder", at=at, order_id=order_id, exchange_order_id=f"X-{order_id}",
                         symbol=symbol, side="buy", qty=2, cum_qty=0, owner="oms-primary", action="cancel")


def test_unknown_open_order_alerts_are_counted_with_their_orders_and_instants() -> None:
    history = _ghost(_promoted_dr(), "oms-primary-1-7", at=12.5)
    _ghost(history, "oms-primary-1-9", at=12.501, symbol="ETH-USD")
    history.alert("PromotionReconciled", at=12.6, venue_orders=9, unknown_open_orders=["oms-primary-1-7"])

    observation = UNKNOWN.check(history.ops)

    assert observation.value == 2
    assert observation.evidence["orders"][0] == {
        "instance": "oms-dr", "order_id": "oms-primary-1-7", "exchange_order_id": "X-oms-primary-1-7",
        "symbol": "BTC-USD", "qty": 2, "t_ns": ns(12.5), "after_s": 2.499,
    }
    assert observation.evidence["symbols"] == ["BTC-USD", "ETH-USD"]
    assert observation.note == "2 unknown open order(s) in BTC-USD, ETH-USD"
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_no_unknown_open_order_is_zero_when_the_sut_was_recorded() -> None:
    history = _promoted_dr().alert("PromotionReconciled", at=12.6, venue_orders=3)

    observation = UNKNOWN.check(history.ops)

    assert observation.value == 0
    assert observation.evidence["orders"] == []
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


@pytest.mark.parametrize("checker", [UNKNOWN, TOTAL])
def test_no_sut_event_at_all_is_unknown(checker: Checker) -> None:
    history = HistoryBuilder().run_start().fault("kill", at=10.0, target="oms-primary")

    observation = checker.check(history.ops)

    assert observation.value is None
    assert "NATS recorder was not running" in observation.note
    assert grade(MaxBound(max=0), observation) is Verdict.UNKNOWN


def test_the_total_leaves_out_the_informational_promotion_reconciled() -> None:
    history = _ghost(_promoted_dr(), "oms-primary-1-7", at=12.5)
    history.alert("PromotionReconciled", at=12.6, venue_orders=9)
    history.alert("KillSwitchEngaged", at=20.0, instance="oms-primary", open_orders=3)

    observation = TOTAL.check(history.ops)

    assert observation.value == 2
    assert observation.evidence["by_alert"] == {"KillSwitchEngaged": 1, "UnknownOpenOrder": 1}
    assert observation.evidence["by_instance"] == {"oms-dr": 1, "oms-primary": 1}
    assert observation.evidence["informational"] == 1
    assert [alert["after_s"] for alert in observation.evidence["alerts"]] == [2.499, 9.999]
    assert observation.note == "KillSwitchEngaged 1, UnknownOpenOrder 1"
    assert grade(MaxBound(max=1), observation) is Verdict.FAIL


def test_alerts_are_listed_by_when_they_were_raised_and_the_list_is_capped() -> None:
    history = _promoted_dr()
    for n in range(MAX_LISTED_ALERTS + 5):
        alert = {"instance": "oms-dr", "alert": "UnknownOpenOrder", "detail": {"order_id": f"o{n}"}}
        history.sut("alerts", alert, at=13.0, happened=13.0 - n / 1000)

    observation = UNKNOWN.check(history.ops)

    assert observation.value == MAX_LISTED_ALERTS + 5
    assert len(observation.evidence["orders"]) == MAX_LISTED_ALERTS
    assert observation.evidence["orders"][0]["order_id"] == f"o{MAX_LISTED_ALERTS + 4}"
    assert observation.evidence["symbols"] == []


@pytest.mark.parametrize(("value", "complaint"), [
    ({"alert": "UnknownOpenOrder", "detail": {}}, "instance"),
    ({"instance": "oms-dr", "alert": "UnknownOpenOrder", "detail": {"qty": "many"}},
     "the detail of the UnknownOpenOrder alert of oms-dr"),
])
def test_a_malformed_alert_grades_unknown_with_the_error(value: dict[str, object], complaint: str) -> None:
    history = _promoted_dr().sut("alerts", value, at=13.0)

    observation = observe(UNKNOWN, history.ops)

    assert observation.error is not None
    assert "CheckerError" in observation.error
    assert complaint in observation.error
    assert grade(EqualsBound(equals=0), observation) is Verdict.UNKNOWN
