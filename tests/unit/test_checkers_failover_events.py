import pytest

from gameday.checker_specs import FAILOVERS_DATABASE
from gameday.checkers import observe
from gameday.checkers.failovers import FailoverCount
from gameday.scenario import EqualsBound, MaxBound, parse_scenario
from gameday.verdict import RunResult, Verdict, grade, grade_run
from tests.unit.history_builder import VANTAGES, HistoryBuilder, ledger_order, ns, resting_order

CHECKER = FailoverCount()
CONFIRMED = "all vantages failed 3 consecutive checks"


def _killed_primary() -> HistoryBuilder:
    history = HistoryBuilder().run_start().failover_decision("healthy", at=0.5)
    return history.fault("kill", at=10.0, target="oms-primary")


def test_a_promote_decision_is_one_confirmed_failover_with_its_instant_and_vantages() -> None:
    history = _killed_primary().failover_decision("suspect", at=10.5, failures=(1, 1), reason="failing")
    history.failover_decision("promote", at=12.001, failures=(3, 4), reason=CONFIRMED)
    history.failover_decision("promoted", at=12.2, failures=(3, 4))

    observation = CHECKER.check(history.ops)

    assert observation.value == 1
    assert observation.evidence["reference"] == {"from": "first fault (kill kill-0)", "t_ns": ns(10.001)}
    assert observation.evidence["promotions"] == [{
        "daemon": "failover", "t_ns": ns(12.001), "after_s": 2.0, "reason": CONFIRMED,
        "failures": {VANTAGES[0]: 3, VANTAGES[1]: 4}, "vantages": list(VANTAGES[:2]),
    }]
    assert observation.evidence["decisions"] == {"healthy": 1, "promote": 1, "promoted": 1, "suspect": 1}
    assert grade(EqualsBound(equals=1), observation) is Verdict.PASS
    assert grade(MaxBound(max=0), observation) is Verdict.FAIL


def test_no_confirmation_is_zero_and_fails_an_expected_failover_naming_the_decisions() -> None:
    history = _killed_primary().failover_decision("suspect", at=10.5, failures=(1, 0))

    observation = CHECKER.check(history.ops)

    assert observation.value == 0
    assert observation.evidence["promotions"] == []
    assert observation.note == "no failover confirmed (decisions: healthy 1, suspect 1)"
    assert grade(EqualsBound(equals=1), observation) is Verdict.FAIL


def test_a_suppressed_confirmation_is_listed_apart_and_not_counted() -> None:
    history = _killed_primary().failover_decision("suppressed", at=12.5, failures=(3, 3), reason=CONFIRMED)

    observation = CHECKER.check(history.ops)

    assert observation.value == 0
    [suppressed] = observation.evidence["suppressed"]
    assert (suppressed["after_s"], suppressed["reason"]) == (2.499, CONFIRMED)
    assert "1 confirmed failure(s) suppressed" in observation.note


def test_only_the_named_daemons_promotions_count() -> None:
    history = _killed_primary()
    history.failover_decision("promote", at=12.0, daemon="db-failover", failures=(3,))
    history.failover_decision("promote", at=13.0, failures=(3, 3))

    oms = CHECKER.check(history.ops)
    database = FailoverCount(FAILOVERS_DATABASE, daemon="db-failover").check(history.ops)

    assert oms.value == 1
    assert oms.evidence["daemons"] == ["failover"]
    assert database.value == 1
    assert database.evidence["promotions"][0]["daemon"] == "db-failover"


def test_a_history_with_only_another_daemons_decisions_is_unknown() -> None:
    history = HistoryBuilder().run_start().failover_decision("healthy", at=0.5, daemon="db-failover")

    observation = CHECKER.check(history.ops)

    assert observation.value is None
    assert "the failover daemon published no decision" in observation.note


def test_confirmations_are_ordered_by_when_the_daemon_decided_then_by_history_order() -> None:
    history = _killed_primary()
    history.failover_decision("promote", at=13.0, reason="late-recorded", happened=11.0, failures=(3,))
    history.failover_decision("promote", at=13.1, reason="b", happened=12.0, failures=(3,))
    history.failover_decision("promote", at=13.2, reason="a", happened=12.0, failures=(3,))

    promotions = CHECKER.check(history.ops).evidence["promotions"]

    assert [p["reason"] for p in promotions] == ["late-recorded", "b", "a"]
    assert promotions[0]["after_s"] == 0.999


def test_without_a_fault_instants_are_told_from_the_run_start_else_the_first_op() -> None:
    with_start = HistoryBuilder().run_start(at=2.0).failover_decision("promote", at=7.0, failures=(3,))
    without = HistoryBuilder().failover_decision("promote", at=7.0, failures=(3,))

    assert CHECKER.check(with_start.ops).evidence["promotions"][0]["after_s"] == 5.0
    assert CHECKER.check(with_start.ops).evidence["reference"]["from"] == "run start"
    assert CHECKER.check(without.ops).evidence["reference"]["from"] == "first recorded op"


def test_no_decision_recorded_is_unknown() -> None:
    history = HistoryBuilder().run_start().alert("KillSwitchEngaged", at=1.0)

    observation = CHECKER.check(history.ops)

    assert observation.value is None
    assert observation.note == "the failover daemon published no decision"
    assert grade(EqualsBound(equals=1), observation) is Verdict.UNKNOWN


@pytest.mark.parametrize(("event", "complaint"), [
    ({"daemon": "d", "decision": "panic", "detail": {"reason": "r", "failures": [], "vantages": []}},
     "decision"),
    ({"daemon": "d", "decision": "promote", "detail": {"reason": "r", "failures": [3], "vantages": []}},
     "1 failure counts for 0 vantages"),
    ({"daemon": "d", "decision": "promote"}, "detail"),
])
def test_a_malformed_decision_grades_unknown_with_the_error(event: dict[str, object], complaint: str) -> None:
    history = _killed_primary().sut("failover", event, at=12.0)

    observation = observe(CHECKER, history.ops)

    assert observation.value is None
    assert observation.error is not None
    assert "CheckerError" in observation.error
    assert complaint in observation.error
    assert f"history op #{len(history.ops) - 1}" in observation.error
    assert grade(EqualsBound(equals=1), observation) is Verdict.UNKNOWN


GAME_DAY = """
name: failover-drill
description: "kill the primary; the DR takes over with the risk limits and resting orders intact"
seed: 3
stack: {preset: active-passive}
workload: {orders_per_second: 10, symbols: [BTC-USD], duration: 30s}
timeline:
  - {at: 10s, fault: kill, target: oms-primary}
expect:
  failovers.count: 1
  trading.gap: {max: 5s}
  alerts.unknown_open_order: 0
  alerts.total: 0
  replication.lag: {max: 1s}
  risk.limit_breaches: 0
  orders.resting_cancelled: 0
"""


def _drill(*, dr_order_qty: int) -> HistoryBuilder:
    history = HistoryBuilder().run_start().failover_decision("healthy", at=0.5)
    limit = {"instance": "oms-primary", "symbol": "BTC-USD", "max_order_qty": 10}
    history.action("risk-limit", limit, at=1.0)
    history.action("resting-orders", {"instance": "oms-primary", "orders": [resting_order("rest-1")]}, at=2.0)
    history.replication(40, at=8.0).trade(at=9.5, instance="oms-primary")
    history.fault("kill", at=10.0, target="oms-primary").trade(at=11.0).trade(at=12.0)
    history.failover_decision("promote", at=12.001, failures=(3, 3), reason=CONFIRMED)
    history.alert("PromotionReconciled", at=12.5, venue_orders=1)
    history.trade(at=13.0, instance="oms-dr").trade(at=13.5, instance="oms-dr")
    history.ledger(orders=[ledger_order("rest-1", "oms-primary", 2.0),
                           ledger_order("oms-dr-1-1", "oms-dr", 13.2, qty=dr_order_qty)])
    return history.run_end(at=41.0)


def test_a_whole_failover_drill_grades_every_new_expectation() -> None:
    result = grade_run(parse_scenario(GAME_DAY), _drill(dr_order_qty=10).ops)

    assert {case.name: case.verdict for case in result.expectations} == dict.fromkeys(
        ["failovers.count", "trading.gap", "alerts.unknown_open_order", "alerts.total", "replication.lag",
         "risk.limit_breaches", "orders.resting_cancelled"], Verdict.PASS)
    assert RunResult.model_validate_json(result.model_dump_json()) == result


def test_a_dr_that_forgot_the_risk_limit_fails_the_drill_naming_the_order() -> None:
    result = grade_run(parse_scenario(GAME_DAY), _drill(dr_order_qty=500).ops)

    failed = [case for case in result.expectations if case.verdict is Verdict.FAIL]
    assert [case.name for case in failed] == ["risk.limit_breaches"]
    assert failed[0].evidence["breaches"][0]["cl_ord_id"] == "oms-dr-1-1"
    assert result.verdict is Verdict.FAIL


def test_a_quiet_run_with_only_heartbeats_has_evidence_of_no_failover() -> None:
    history = HistoryBuilder().run_start()
    for second in range(1, 6):
        history.failover_decision("healthy", at=float(second), heartbeat=True)
    observation = FailoverCount().check(history.ops)
    assert observation.value == 0
    assert observation.note == "no failover confirmed (decisions: healthy 1)"


def test_heartbeats_in_a_promote_state_are_not_more_failovers() -> None:
    history = _killed_primary().failover_decision("promote", at=12.0, failures=(3, 3), reason=CONFIRMED)
    for at in (12.5, 13.0, 13.5):
        history.failover_decision("promote", at=at, failures=(3, 3), heartbeat=True)
    history.failover_decision("promoted", at=13.6, failures=(3, 3))
    assert FailoverCount().check(history.ops).value == 1
