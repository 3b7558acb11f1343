import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from gameday.checkers import NoopChecker, Observation, Unit, build_registry
from gameday.history import Op
from gameday.scenario import EqualsBound, MaxBound, MinBound, RangeBound, load_scenario
from gameday.verdict import (
    EXIT_ABORTED,
    RunStatus,
    Verdict,
    admits,
    describe_bound,
    exit_code,
    grade,
    grade_run,
    overall_verdict,
)
from tests.unit.history_builder import HistoryBuilder, failover_history
from trading_stack.config import Defect

SCENARIO = load_scenario(Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml")


@pytest.mark.parametrize(("bound", "value", "expected"), [
    (MaxBound(max=10), 10, True), (MaxBound(max=10), 10.001, False),
    (MinBound(min=1), 1, True), (MinBound(min=1), 0.5, False),
    (EqualsBound(equals=0), 0, True), (EqualsBound(equals=0), 1, False),
    (RangeBound(min=1, max=2), 1.5, True), (RangeBound(min=1, max=2), 2.5, False),
    (MaxBound(max=10), math.inf, False), (MinBound(min=1), math.inf, True),
])
def test_bounds_admit_by_type(bound: object, value: float, expected: bool) -> None:
    assert admits(bound, value) is expected


def test_an_unknown_bound_type_is_a_programming_error() -> None:
    with pytest.raises(TypeError):
        admits("max 3", 1.0)


def test_absent_evidence_is_unknown_and_a_crash_is_unknown() -> None:
    absent = Observation.absent(Unit.COUNT, "nothing")
    crashed = Observation(value=3, unit=Unit.COUNT, error="KeyError: 'x'")

    assert grade(MaxBound(max=1), absent) is Verdict.UNKNOWN
    assert grade(MaxBound(max=5), crashed) is Verdict.UNKNOWN


def test_never_completed_fails_a_max_and_passes_a_min() -> None:
    never = Observation(value=None, unit=Unit.SECONDS, unbounded=True)

    assert grade(MaxBound(max=10), never) is Verdict.FAIL
    assert grade(MinBound(min=1), never) is Verdict.PASS


def test_overall_verdict_and_exit_codes() -> None:
    assert overall_verdict([Verdict.PASS, Verdict.UNKNOWN, Verdict.FAIL]) is Verdict.FAIL
    assert overall_verdict([Verdict.PASS, Verdict.UNKNOWN]) is Verdict.UNKNOWN
    assert overall_verdict([Verdict.PASS, Verdict.PASS]) is Verdict.PASS
    assert [exit_code(v) for v in (Verdict.PASS, Verdict.FAIL, Verdict.UNKNOWN)] == [0, 1, 3]


def test_bound_descriptions_use_the_unit() -> None:
    assert describe_bound(MaxBound(max=10), Unit.SECONDS) == "max 10s"
    assert describe_bound(EqualsBound(equals=0), Unit.COUNT) == "equals 0"
    assert describe_bound(RangeBound(min=1, max=2.5), Unit.BPS) == "between 1 bps and 2.5 bps"


def test_a_clean_failover_passes_every_expectation() -> None:
    result = grade_run(SCENARIO, failover_history().ops)

    assert {case.name: case.verdict for case in result.expectations} == {
        "rto.failover": Verdict.PASS, "positions.mismatch_bps": Verdict.PASS,
        "orders.ghost": Verdict.PASS, "writers.concurrent_active": Verdict.PASS,
        "trading.available_at_end": Verdict.PASS, "orders.sent_without_lease": Verdict.PASS,
        "fills.lost": Verdict.PASS,
    }
    assert result.verdict is Verdict.PASS
    assert result.exit_code == 0
    assert (result.run_id, result.seed, result.run_status) == ("run-42", 7, RunStatus.COMPLETED)
    rto = result.expectations[0]
    assert (rto.observed, rto.observed_text, rto.bound_text) == (3.0, "3s", "max 10s")


def test_an_old_primary_writing_after_the_promotion_fails_the_run() -> None:
    result = grade_run(SCENARIO, failover_history(old_primary_keeps_sending=True).ops)

    writers = next(case for case in result.expectations if case.name == "writers.concurrent_active")
    assert writers.verdict is Verdict.FAIL
    assert writers.observed == 2
    assert result.verdict is Verdict.FAIL
    assert result.exit_code == 1
    assert result.defects == (Defect.NO_FENCING,)


def test_a_dead_stack_fails_rto_availability_and_what_needs_an_active_instance() -> None:
    result = grade_run(SCENARIO, failover_history(recovered=False).ops)

    verdicts = {case.name: case.verdict for case in result.expectations}
    assert verdicts == {
        "rto.failover": Verdict.FAIL, "positions.mismatch_bps": Verdict.FAIL, "orders.ghost": Verdict.FAIL,
        "writers.concurrent_active": Verdict.PASS, "trading.available_at_end": Verdict.FAIL,
        "orders.sent_without_lease": Verdict.PASS, "fills.lost": Verdict.PASS,  # written before the kill
    }
    ghost = next(case for case in result.expectations if case.name == "orders.ghost")
    assert ghost.observed_text == "none"
    assert ghost.note == "no instance was active at the end: trading had stopped"
    assert result.expectations[0].observed_text == "never"
    assert result.verdict is Verdict.FAIL
    assert result.exit_code == 1


def test_a_fill_the_oms_never_committed_fails_fills_lost_and_nothing_else() -> None:
    result = grade_run(SCENARIO, failover_history(unpersisted=("e2",)).ops)

    failing = [case for case in result.expectations if case.verdict is not Verdict.PASS]
    assert [(case.name, case.verdict, case.observed) for case in failing] == [("fills.lost", Verdict.FAIL, 1)]
    assert failing[0].note.startswith("1 of 2 ledger fills missing from the database (BTC-USD 1)")
    assert [fill["exec_id"] for fill in failing[0].evidence["lost"]] == ["e2"]
    assert result.verdict is Verdict.FAIL
    assert result.exit_code == 1


def test_without_the_database_capture_fills_lost_is_unknown() -> None:
    ops = [op for op in failover_history().ops if op.process != "probe-database"]

    result = grade_run(SCENARIO, ops)

    lost = next(case for case in result.expectations if case.name == "fills.lost")
    assert lost.verdict is Verdict.UNKNOWN
    assert lost.note == "no database capture in the history"
    assert result.verdict is Verdict.UNKNOWN


def test_a_dead_stack_never_reads_better_than_a_live_one() -> None:
    rank = {Verdict.PASS: 0, Verdict.UNKNOWN: 1, Verdict.FAIL: 2}
    live = {case.name: case.verdict for case in grade_run(SCENARIO, failover_history().ops).expectations}
    dead = grade_run(SCENARIO, failover_history(recovered=False).ops).expectations

    assert all(rank[case.verdict] >= rank[live[case.name]] for case in dead)


def test_a_violation_fails_whatever_the_bound() -> None:
    violated = Observation.violation(Unit.BPS, "no instance was active at the end: trading had stopped")

    assert grade(MaxBound(max=1e9), violated) is Verdict.FAIL
    assert grade(MinBound(min=0), violated) is Verdict.FAIL


def test_an_aborted_run_exits_4_with_its_reason_whatever_its_expectations_read() -> None:
    ops = failover_history().ops
    end = ops[-1].model_copy(update={"value": {"status": "aborted", "error": "RuntimeError: nats died"}})

    result = grade_run(SCENARIO, [*ops[:-1], end])

    assert result.verdict is Verdict.PASS
    assert (result.run_status, result.abort_reason) == (RunStatus.ABORTED, "RuntimeError: nats died")
    assert result.exit_code == EXIT_ABORTED == 4
    assert exit_code(Verdict.UNKNOWN, RunStatus.ABORTED) == 4
    assert grade_run(SCENARIO, ops).abort_reason is None


def test_missing_evidence_without_failures_is_unknown_with_exit_code_3() -> None:
    result = grade_run(SCENARIO, HistoryBuilder().ops)

    assert result.verdict is Verdict.UNKNOWN
    assert result.exit_code == 3
    assert result.run_id is None
    assert result.seed == SCENARIO.seed


def test_a_crashing_checker_is_unknown_not_a_crash_of_grading() -> None:
    class Broken(NoopChecker):
        def check(self, ops: Sequence[Op]) -> Observation:
            raise RuntimeError("bug in checker")

    registry = build_registry([Broken("rto.failover", Unit.SECONDS), NoopChecker("positions.mismatch_bps"),
                               NoopChecker("orders.ghost"), NoopChecker("writers.concurrent_active")])

    result = grade_run(SCENARIO, failover_history().ops, registry)

    assert result.expectations[0].verdict is Verdict.UNKNOWN
    assert result.expectations[0].error == "RuntimeError: bug in checker"
    assert result.verdict is Verdict.UNKNOWN


def test_an_expectation_without_a_checker_is_unknown() -> None:
    result = grade_run(SCENARIO, failover_history().ops, build_registry([]))

    assert all(case.verdict is Verdict.UNKNOWN for case in result.expectations)
    assert result.expectations[0].error == "no checker named 'rto.failover'"
