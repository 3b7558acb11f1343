"""``load.failure_ratio`` and ``load.p99_ms`` on hand-built histories: whole load, windows, unknowns."""

from __future__ import annotations

import pytest

from gameday.checkers import GradingContext, Unit, Window, WindowKind
from gameday.checkers.load import LoadFailureRatio, LoadP99, load_seconds
from gameday.history import OpKind, OpType
from gameday.scenario import MaxBound, parse_scenario
from gameday.verdict import Verdict, grade, grade_run
from tests.unit.history_builder import HistoryBuilder, ns

KILL = Window(WindowKind.DURING, "f1-kill", "primary-crash")


def _second(history: HistoryBuilder, end_s: float, requests: int, failures: int = 0,
            slow_ms: int | None = None) -> HistoryBuilder:
    """One second of load ending at ``end_s``: every request took 10 ms (one took ``slow_ms``)."""
    histogram = {"10": requests - (slow_ms is not None)}
    if slow_ms is not None:
        histogram[str(slow_ms)] = 1
    errors = {"POST /orders: ConnectionRefusedError(111)": failures} if failures else {}
    return history.add(OpKind.LOAD, OpType.OK, "locust", "stats",
                       {"from_ns": ns(end_s - 1), "users": 20, "requests": requests, "failures": failures,
                        "histogram": histogram, "errors": errors}, at=end_s)


def _load(failing: range, *, seconds: int = 12, requests: int = 50, failures: int = 25) -> HistoryBuilder:
    """A run with load from 0 s to ``seconds``; the seconds ending in ``failing`` have failures."""
    history = HistoryBuilder().run_start()
    for end in range(1, seconds + 1):
        _second(history, end, requests, failures if end in failing else 0)
    return history


def _heal_phase(history: HistoryBuilder, at: float) -> HistoryBuilder:
    return history.add(OpKind.RUN, OpType.INFO, "runner", "phase", {"phase": "heal"}, at=at)


def test_without_load_statistics_both_read_unknown() -> None:
    ops = HistoryBuilder().run_start().trade(at=1.0, instance="oms-primary").ops

    for checker in (LoadFailureRatio(), LoadP99()):
        observation = checker.check(ops)
        assert observation.value is None
        assert "no load statistics" in observation.note
        assert grade(MaxBound(max=1), observation) is Verdict.UNKNOWN


def test_the_failure_ratio_over_the_whole_load() -> None:
    ops = _load(range(6, 8)).ops  # 2 of 12 seconds half failed: 50 of 600

    observation = LoadFailureRatio().check(ops)

    assert observation.unit is Unit.RATIO
    assert observation.value == pytest.approx(50 / 600, abs=1e-4)
    assert observation.evidence["requests"] == 600
    assert observation.evidence["top_errors"] == {"POST /orders: ConnectionRefusedError(111)": 50}
    assert grade(MaxBound(max=0.1), observation) is Verdict.PASS
    assert grade(MaxBound(max=0.05), observation) is Verdict.FAIL


def test_during_a_fault_with_for_reads_its_start_to_its_heal() -> None:
    history = _load(range(6, 9)).fault("pause", at=5.0, target="oms-primary", fault_id="f1-pause")
    history.fault("heal", at=8.0, target="oms-primary", fault_id="f1-pause")
    context = GradingContext(window=Window(WindowKind.DURING, "f1-pause", "slow"))

    observation = LoadFailureRatio().check_in(_heal_phase(history, 12.5).ops, context)

    assert observation.evidence["seconds"] == 3  # the seconds ending 6, 7 and 8 s
    assert observation.value == 0.5
    assert observation.evidence["from"]["after_s"] == 0  # instants count from the first applied fault
    assert observation.evidence["to"]["after_s"] == pytest.approx(3.0)


def test_after_a_heal_with_grace_reads_from_heal_plus_grace_on() -> None:
    history = _load(range(6, 11)).fault("pause", at=5.0, target="oms-primary", fault_id="f1-pause")
    history.fault("heal", at=8.0, target="oms-primary", fault_id="f1-pause")
    ops = _heal_phase(history, 12.5).ops

    straight_after = LoadFailureRatio().check_in(ops, GradingContext(
        window=Window(WindowKind.AFTER, "f1-pause", "slow")))
    with_grace = LoadFailureRatio().check_in(ops, GradingContext(
        window=Window(WindowKind.AFTER, "f1-pause", "slow", grace_ns=2_000_000_000)))

    assert straight_after.value == pytest.approx(2 * 25 / (4 * 50))  # seconds ending 9..12; 9 and 10 fail
    assert grade(MaxBound(max=0), straight_after) is Verdict.FAIL
    assert with_grace.value == 0
    assert with_grace.evidence["seconds"] == 2
    assert grade(MaxBound(max=0), with_grace) is Verdict.PASS


def test_a_kill_is_healed_only_at_the_end_so_after_counts_from_its_start() -> None:
    history = _load(range(5, 8)).fault("kill", at=4.0, target="oms-primary", fault_id="f1-kill")
    history = _heal_phase(history, 12.5).fault("heal", at=12.6, target="oms-primary", fault_id="f1-kill")
    after = Window(WindowKind.AFTER, "f1-kill", "primary-crash", grace_ns=4_000_000_000)

    during = LoadFailureRatio().check_in(history.ops, GradingContext(window=KILL))
    recovered = LoadFailureRatio().check_in(history.ops, GradingContext(window=after))

    assert during.evidence["seconds"] == 8  # from 4 s to the end of the load: seconds ending 5..12
    assert during.evidence["to"] is None
    assert during.value == pytest.approx(3 * 25 / (8 * 50))
    assert recovered.evidence["seconds"] == 4  # from 8 s: seconds ending 9..12
    assert recovered.value == 0
    assert "never healed" in recovered.note


def test_a_defect_that_never_recovers_fails_the_window_after() -> None:
    history = _load(range(5, 13)).fault("kill", at=4.0, target="oms-primary", fault_id="f1-kill")
    after = Window(WindowKind.AFTER, "f1-kill", "primary-crash", grace_ns=4_000_000_000)

    observation = LoadFailureRatio().check_in(history.ops, GradingContext(window=after))

    assert observation.value == 0.5
    assert grade(MaxBound(max=0), observation) is Verdict.FAIL


def test_a_fault_never_applied_or_a_window_without_requests_is_unknown() -> None:
    not_applied = _load(range(0)).fault("kill", at=4.0, target="oms-primary", fault_id="f1-kill",
                                        outcome=OpType.FAIL)
    late = _load(range(0), seconds=3).fault("kill", at=6.0, target="oms-primary", fault_id="f1-kill")

    missing = LoadFailureRatio().check_in(not_applied.ops, GradingContext(window=KILL))
    empty = LoadP99().check_in(late.ops, GradingContext(window=KILL))

    assert (missing.value, empty.value) == (None, None)
    assert "was not applied" in missing.note
    assert "no request in the window" in empty.note
    assert grade(MaxBound(max=1), missing) is Verdict.UNKNOWN


def test_the_p99_merges_the_seconds_of_the_window() -> None:
    history = HistoryBuilder().run_start()
    for end in range(1, 11):
        _second(history, end, 20, slow_ms=2500 if end in (3, 4, 5) else None)

    observation = LoadP99().check(history.ops)  # 3 slow of 200 (1.5 %): the p99 is slow

    assert observation.unit is Unit.MILLISECONDS
    assert observation.value == 2500
    assert observation.evidence["p50_ms"] == 10
    assert grade(MaxBound(max=3000), observation) is Verdict.PASS
    assert grade(MaxBound(max=1000), observation) is Verdict.FAIL


def test_malformed_seconds_are_left_out() -> None:
    history = _second(HistoryBuilder().run_start(), 1.0, 10)
    history.add(OpKind.LOAD, OpType.OK, "locust", "stats", {"requests": "many"}, at=2.0)
    history.add(OpKind.LOAD, OpType.OK, "locust", "stats", {"from_ns": ns(4.0), "requests": 5}, at=3.0)

    assert [second.requests for second in load_seconds(history.ops)] == [10]


SCENARIO = """\
name: failover-under-load
description: a kill under locust load
seed: 1
stack: {preset: active-passive}
workload: {orders_per_second: 10, symbols: [BTC-USD], duration: 12s}
timeline:
  - {id: primary-crash, at: 4s, fault: kill, target: oms-primary}
expect:
  load.failure_ratio@failover: {max: 0.25, during: primary-crash}
  load.failure_ratio@recovered: {max: 0, after: primary-crash, grace: 4s}
  load.p99_ms: {max: 1000}
"""


@pytest.mark.parametrize(("failing", "verdicts"), [
    (range(5, 8), ["pass", "pass", "pass"]),
    (range(5, 13), ["fail", "fail", "pass"]),
])
def test_labelled_expectations_grade_one_checker_over_two_windows(failing: range,
                                                                  verdicts: list[str]) -> None:
    scenario = parse_scenario(SCENARIO)
    history = _load(failing).fault("kill", at=4.0, target="oms-primary", fault_id="f1-kill")

    result = grade_run(scenario, history.ops)

    names = ["load.failure_ratio@failover", "load.failure_ratio@recovered", "load.p99_ms"]
    assert [(case.name, case.verdict.value) for case in result.expectations] == list(zip(
        names, verdicts, strict=True))
