import pytest

from gameday.checkers.deploy import CutoverDone, CutoverGap, RollbackTime
from gameday.scenario import EqualsBound, MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import BLUE, GREEN, ledger, phase, steady_orders
from tests.unit.history_builder import HistoryBuilder


def _cut_over(history: HistoryBuilder, *, started: float = 10.0, done: float = 10.4) -> HistoryBuilder:
    phase(history, "verifying", "launched", at=3.0)
    phase(history, "cutting-over", "cutover-started", at=started)
    return phase(history, "live", "cutover-done", at=done)


def test_cutover_done_reads_the_deploy_timeline() -> None:
    done = _cut_over(HistoryBuilder())
    aborted = phase(phase(HistoryBuilder(), "verifying", "launched", at=3.0), "aborted", "aborted", at=18.0)

    assert CutoverDone().check(done.ops).value == 1
    observation = CutoverDone().check(aborted.ops)
    assert observation.value == 0
    assert observation.evidence["final_phase"] == "aborted"
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


def test_no_deploy_timeline_is_unknown() -> None:
    for checker in (CutoverDone(), CutoverGap(), RollbackTime()):
        observation = checker.check(HistoryBuilder().ops)
        assert observation.value is None
        assert "deploy.phases" in observation.note


def test_cutover_gap_is_the_silence_between_blue_and_green_at_the_venue() -> None:
    history = _cut_over(HistoryBuilder())
    ledger(history, steady_orders(BLUE, 0.0, 9.9, 0.1) + steady_orders(GREEN, 10.35, 20.0, 0.1))

    observation = CutoverGap().check(history.ops)

    assert observation.value == pytest.approx(0.45)
    assert observation.evidence["last_before"]["instance"] == BLUE
    assert observation.evidence["first_after"]["instance"] == GREEN
    assert grade(MaxBound(max=1.0), observation) is Verdict.PASS


def test_a_long_hold_fails_the_gap_bound() -> None:
    history = _cut_over(HistoryBuilder(), done=12.0)
    ledger(history, steady_orders(BLUE, 0.0, 9.9, 0.1) + steady_orders(GREEN, 11.9, 20.0, 0.1))

    observation = CutoverGap().check(history.ops)

    assert observation.value == pytest.approx(2.0)
    assert grade(MaxBound(max=1.0), observation) is Verdict.FAIL


def test_no_order_after_the_cutover_is_an_unbounded_gap() -> None:
    history = _cut_over(HistoryBuilder())
    ledger(history, steady_orders(BLUE, 0.0, 9.9, 0.1))

    observation = CutoverGap().check(history.ops)

    assert observation.unbounded
    assert grade(MaxBound(max=1.0), observation) is Verdict.FAIL


def _rejected_after_cutover(*, rolled_back_at: float | None) -> HistoryBuilder:
    history = _cut_over(HistoryBuilder())
    phase(history, "rolling-back", "rejects-exceeded", at=12.3)
    if rolled_back_at is not None:
        phase(history, "rolled-back", "rollback-done", at=rolled_back_at)
    orders = (steady_orders(BLUE, 0.0, 9.9, 0.1) + steady_orders(GREEN, 10.5, 11.9, 0.1)
              + steady_orders(GREEN, 12.0, 12.4, 0.1, status="rejected"))
    return ledger(history, orders)


def test_rollback_time_runs_from_the_first_rejected_order() -> None:
    observation = RollbackTime().check(_rejected_after_cutover(rolled_back_at=13.5).ops)

    assert observation.value == pytest.approx(1.5)
    assert observation.evidence["rejected_after_cutover"] == 5
    assert observation.evidence["first_rejected"]["instance"] == GREEN
    assert grade(MaxBound(max=5.0), observation) is Verdict.PASS


def test_never_rolling_back_is_unbounded() -> None:
    observation = RollbackTime().check(_rejected_after_cutover(rolled_back_at=None).ops)

    assert observation.unbounded
    assert grade(MaxBound(max=5.0), observation) is Verdict.FAIL


def test_a_rollback_without_rejects_has_nothing_to_time() -> None:
    history = _cut_over(HistoryBuilder())
    phase(history, "rolled-back", "rollback-done", at=20.0)
    ledger(history, steady_orders(BLUE, 0.0, 9.9, 0.1) + steady_orders(GREEN, 10.5, 19.0, 0.1))

    observation = RollbackTime().check(history.ops)

    assert observation.value is None
    assert "nothing to roll back" in observation.note


def test_rejects_exceeded_alone_starts_the_clock() -> None:
    history = _cut_over(HistoryBuilder())
    phase(history, "rolling-back", "rejects-exceeded", at=12.0)
    phase(history, "rolled-back", "rollback-done", at=12.8)
    ledger(history, steady_orders(BLUE, 0.0, 9.9, 0.1))

    assert RollbackTime().check(history.ops).value == pytest.approx(0.8)
