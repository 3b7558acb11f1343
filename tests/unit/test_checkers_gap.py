from gameday.checkers import observe
from gameday.checkers.gap import TradingGap
from gameday.history import OpKind, OpType
from gameday.scenario import Expectation, MaxBound
from gameday.scenario.expectations import expectation_input
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ns

CHECKER = TradingGap()


def _failover(*, dr_from: float | None = 13.5) -> HistoryBuilder:
    history = HistoryBuilder().run_start()
    for at in (8.0, 8.5, 9.0, 9.5):
        history.trade(at=at, instance="oms-primary")
    history.fault("kill", at=10.0, target="oms-primary")
    history.trade(at=10.5).trade(at=11.5, outcome=OpType.INFO).trade(at=12.5)
    if dr_from is not None:
        history.trade(at=dr_from, instance="oms-dr").trade(at=dr_from + 0.5, instance="oms-dr")
    return history


def test_the_gap_is_the_longest_time_between_successful_probes_across_the_failover() -> None:
    observation = CHECKER.check(_failover().ops)

    assert observation.value == 4.0
    assert observation.evidence["start"] == {"t_ns": ns(9.5), "after_s": -0.501}
    assert observation.evidence["end"] == {"t_ns": ns(13.5), "after_s": 3.499}
    assert (observation.evidence["instance_before"], observation.evidence["instance_after"]) == (
        "oms-primary", "oms-dr")
    assert observation.evidence["failed_probes"] == 3
    assert observation.evidence["successful_probes"] == 6
    assert grade(MaxBound(max=5), observation) is Verdict.PASS
    assert grade(MaxBound(max=3.9), observation) is Verdict.FAIL
    assert "oms-primary then oms-dr (3 probes failed)" in observation.note


def test_failing_last_probes_make_the_gap_run_to_the_last_attempt() -> None:
    observation = CHECKER.check(_failover(dr_from=None).ops)

    assert observation.value == 3.0
    assert observation.evidence["instance_after"] is None
    assert observation.evidence["until_last_attempt"] is True
    assert observation.evidence["failed_probes"] == 3
    assert observation.note.startswith("no trade succeeded in the last 3.0 s of probing after oms-primary")


def test_a_probe_still_in_flight_at_the_end_is_the_last_attempt() -> None:
    history = _failover(dr_from=None)
    history.add(OpKind.PROBE, OpType.INVOKE, "probe-trade", "trade", {}, at=14.0)

    assert CHECKER.check(history.ops).value == 4.5


def test_failures_before_the_first_success_are_start_up_not_a_gap() -> None:
    history = HistoryBuilder().trade(at=1.0).trade(at=3.0).trade(at=6.0, instance="oms-primary")
    history.trade(at=6.25, instance="oms-primary")

    observation = CHECKER.check(history.ops)

    assert observation.value == 0.25
    assert observation.evidence["failed_probes"] == 0


def test_one_success_and_nothing_after_is_no_gap() -> None:
    assert CHECKER.check(HistoryBuilder().trade(at=1.0, instance="oms-primary").ops).value == 0.0


def test_of_two_equal_gaps_the_earlier_is_reported() -> None:
    history = HistoryBuilder()
    for at, instance in ((1.0, "oms-primary"), (3.0, "oms-dr"), (5.0, "oms-primary")):
        history.trade(at=at, instance=instance)

    observation = CHECKER.check(history.ops)

    assert observation.value == 2.0
    assert observation.evidence["instance_after"] == "oms-dr"


def test_the_order_the_ops_are_listed_in_does_not_matter() -> None:
    ops = _failover().ops

    assert CHECKER.check(list(reversed(ops))).evidence == CHECKER.check(ops).evidence


def test_no_successful_probe_is_unknown() -> None:
    history = HistoryBuilder().fault("kill", at=1.0, target="oms-primary").trade(at=2.0).trade(at=3.0)

    observation = CHECKER.check(history.ops)

    assert observation.value is None
    assert observation.evidence == {"attempts": 2}
    assert grade(MaxBound(max=5), observation) is Verdict.UNKNOWN


def test_a_successful_probe_without_its_instance_grades_unknown() -> None:
    history = _failover()
    history.add(OpKind.PROBE, OpType.OK, "probe-trade", "trade", {"order_id": "p"}, at=20.0)

    observation = observe(CHECKER, history.ops)

    assert observation.error is not None
    assert "CheckerError" in observation.error
    assert "instance" in observation.error


def test_a_scenario_bound_on_the_gap_is_a_duration() -> None:
    expectation = Expectation.model_validate(expectation_input("trading.gap", {"max": "1500ms"}))

    assert expectation.bound == MaxBound(max=1.5)
