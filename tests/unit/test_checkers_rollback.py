"""What a rollback leaves at the venue (``deploy.rollback_to_flat``), and when a rollback is timed from."""

from __future__ import annotations

import pytest

from gameday.checkers.deploy import RollbackTime
from gameday.checkers.rollback import RollbackToFlat
from gameday.scenario import MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import BLUE, GREEN, fill, ledger, order, phase
from tests.unit.history_builder import HistoryBuilder


def _rolled_back(*, started: float = 12.0, ended: float | None = 13.5, reason: str = "pnl-breached",
                 end_phase: str = "rolled-back") -> HistoryBuilder:
    history = HistoryBuilder()
    phase(history, "verifying", "launched", at=3.0)
    phase(history, "live", "cutover-done", at=10.0)
    phase(history, "rolling-back", reason, at=started)
    if ended is not None:
        reason_ended = "rollback-done" if end_phase == "rolled-back" else "rollback-failed"
        phase(history, end_phase, reason_ended, at=ended)
    return history


def _green_long_then(history: HistoryBuilder, *, flattened_at: float | None,
                     resting_until: float | None = None) -> HistoryBuilder:
    """Green buys 5 at 10.5 s, blue sells 5 at ``flattened_at``; green's order rests to ``resting_until``."""
    orders = [order("g1", GREEN, 10.5, qty=5), order("g2", GREEN, 11.0, status="new")]
    if resting_until is not None:
        orders[1] = order("g2", GREEN, 11.0, status="canceled", closed_s=resting_until)
    fills = [fill("f1", GREEN, 10.51, qty=5)]
    if flattened_at is not None:
        orders.append(order("b1", BLUE, flattened_at, side="sell", qty=5))
        fills.append(fill("f2", BLUE, flattened_at + 0.01, side="sell", qty=5))
    return ledger(history, orders, fills)


def test_a_rollback_that_cancels_and_flattens_is_flat_before_it_ends() -> None:
    history = _green_long_then(_rolled_back(), flattened_at=12.8, resting_until=12.5)

    observation = RollbackToFlat().check(history.ops)

    assert observation.value == pytest.approx(0.81)
    assert observation.evidence["rollback_started"]["reason"] == "pnl-breached"
    assert grade(MaxBound(max=5.0), observation) is Verdict.PASS


def test_an_order_left_open_is_exposure_even_with_a_flat_book() -> None:
    history = _green_long_then(_rolled_back(), flattened_at=12.8)

    observation = RollbackToFlat().check(history.ops)

    assert observation.unbounded
    assert "rolled-back" in observation.note
    assert grade(MaxBound(max=5.0), observation) is Verdict.FAIL


def test_flat_only_after_the_rollback_ended_is_not_the_rollbacks_doing() -> None:
    history = _green_long_then(_rolled_back(ended=13.5), flattened_at=15.0, resting_until=12.5)

    observation = RollbackToFlat().check(history.ops)

    assert observation.unbounded
    assert observation.evidence["flat"] is not None


def test_no_rollback_after_the_cutover_is_unknown() -> None:
    history = HistoryBuilder()
    phase(history, "live", "cutover-done", at=10.0)
    _green_long_then(history, flattened_at=None)

    observation = RollbackToFlat().check(history.ops)

    assert observation.value is None
    assert not observation.unbounded
    assert "never started a rollback" in observation.note


def test_rollback_time_runs_from_the_first_fault_after_the_cutover() -> None:
    history = _rolled_back(started=12.0, ended=12.9, reason="latency-exceeded")
    history.fault("latency", at=11.0, proxy="oms-green->exchange")
    ledger(history, [order("g1", GREEN, 10.5)])

    observation = RollbackTime().check(history.ops)

    assert observation.value == pytest.approx(1.899)
    assert observation.evidence["trigger"]["reason"] == "latency-exceeded"
    assert observation.evidence["first_fault"]["fault"] == "latency"


def test_rollback_time_without_a_rollback_after_a_fault_is_unbounded() -> None:
    history = _rolled_back(ended=None)
    history.ops.pop()  # no rolling-back either: the deployer never reacted
    history.fault("exchange", at=11.0, target="exchange")
    ledger(history, [order("g1", GREEN, 10.5)])

    observation = RollbackTime().check(history.ops)

    assert observation.unbounded
    assert grade(MaxBound(max=5.0), observation) is Verdict.FAIL
