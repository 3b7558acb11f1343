"""Graceful SIGTERM graded: orders left open at the exit, the checkpoint said written, the exit code."""

from __future__ import annotations

from typing import Any

from gameday.checkers.base import observe
from gameday.checkers.shutdown import CheckpointWritten, ExitCode, OrdersLeftOpen, sigterm_stops
from gameday.history import OpKind, OpType
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import BLUE, ledger, order
from tests.unit.history_builder import HistoryBuilder, ns

RESTART = {"at": "6s", "action": "restart", "target": BLUE, "signal": "SIGTERM", "grace": "45s"}


def _restarted(history: HistoryBuilder, *, at: float = 6.0, stopped_s: float = 1.5, exit_code: Any = 0,
               killed: bool = False, signal: str = "SIGTERM", outcome: OpType = OpType.OK) -> HistoryBuilder:
    """The operator's record of a restart: SIGTERM ``at``, the exit ``stopped_s`` later."""
    history.add(OpKind.ACTION, OpType.INVOKE, "operator", "restart", {**RESTART, "signal": signal}, at=at)
    done = {"target": BLUE, "signal": signal, "exit_code": exit_code, "killed_after_grace": killed,
            "stopped_s": stopped_s, "restarted_s": 4.0, "pid": 7}
    return history.add(OpKind.ACTION, outcome, "operator", "restart", done, at=at + 4.0)


def _run(orders: list[dict[str, Any]], *, checkpoint: bool | None = True, said_at: float = 7.0,
         **restart: Any) -> HistoryBuilder:
    history = HistoryBuilder().run_start().role(BLUE, "active", epoch=1, at=0.5)
    _restarted(history, **restart)
    if checkpoint is not None:
        history.alert("ShutdownComplete", at=said_at, instance=BLUE, canceled=[], cancel_failed=[],
                      checkpoint=checkpoint)
    return ledger(history, orders)


RESTING = [order("r1", BLUE, 2.0, status="canceled", closed_s=6.3),  # cancelled in the drain
           order("r2", BLUE, 2.0, status="filled", closed_s=6.2),  # filled meanwhile: known-filled
           order("r3", BLUE, 1.0, status="filled", closed_s=1.5)]  # done before the signal


def test_a_drain_that_closed_every_order_before_the_exit_passes_all_three() -> None:
    history = _run(RESTING)
    left = OrdersLeftOpen().check(history.ops)
    assert (left.value, left.evidence["stops"][0]["open_at_signal"]) == (0, 2)
    assert CheckpointWritten().check(history.ops).value == 1
    code = ExitCode().check(history.ops)
    assert code.value == 0
    assert code.evidence["stops"][0]["restarted_by_systemd"] is False
    assert grade(EqualsBound(equals=0), left) is Verdict.PASS


def test_orders_closed_only_after_the_exit_were_left_open_by_the_process() -> None:
    successor_cancels = [order("r1", BLUE, 2.0, status="canceled", closed_s=9.0),
                         order("r2", BLUE, 2.0, status="new")]
    history = _run(successor_cancels, checkpoint=None)
    left = OrdersLeftOpen().check(history.ops)
    assert left.value == 2
    assert [o["cl_ord_id"] for o in left.evidence["stops"][0]["orders"]] == ["r1", "r2"]
    assert grade(EqualsBound(equals=0), left) is Verdict.FAIL
    written = CheckpointWritten().check(history.ops)
    assert written.value == 0  # the exit was seen and nothing was said
    assert ExitCode().check(history.ops).value == 0  # exit 0 alone proves nothing


def test_a_checkpoint_that_failed_or_was_said_after_the_exit_counts_as_not_written() -> None:
    assert CheckpointWritten().check(_run(RESTING, checkpoint=False).ops).value == 0
    late = _run(RESTING, said_at=8.0)  # the harness saw the exit 1.5 s after the signal, at 7.5 s
    assert CheckpointWritten().check(late.ops).value == 0


def test_a_sigkill_after_the_grace_is_the_exit_code_of_that_kill() -> None:
    history = _run(RESTING, exit_code=-9, killed=True)
    code = ExitCode().check(history.ops)
    assert code.value == -9
    assert "SIGKILLed after the grace" in code.note
    assert grade(EqualsBound(equals=0), code) is Verdict.FAIL


def _terminated(history: HistoryBuilder) -> HistoryBuilder:
    return history.add(OpKind.FAULT, OpType.OK, "nemesis", "kill",
                       {"fault_id": "f1-kill", "fault": "kill", "target": BLUE, "signal": "SIGTERM"}, at=6.0)


def test_a_kill_fault_with_sigterm_leaves_the_exit_unknown_unless_the_instance_said_it_was_done() -> None:
    silent = ledger(_terminated(HistoryBuilder().run_start().role(BLUE, "active", epoch=1, at=0.5)), RESTING)
    assert [stop.exited_ns for stop in sigterm_stops(silent.ops)] == [None]
    assert OrdersLeftOpen().check(silent.ops).value is None
    assert CheckpointWritten().check(silent.ops).value is None
    assert ExitCode().check(silent.ops).value is None
    said = _terminated(HistoryBuilder().run_start().role(BLUE, "active", epoch=1, at=0.5))
    said = ledger(said.alert("ShutdownComplete", at=6.5, instance=BLUE, checkpoint=True), RESTING)
    left = OrdersLeftOpen().check(said.ops)
    assert (left.value, left.evidence["stops"][0]["graded_until"]["t_ns"]) == (0, ns(6.5))
    assert CheckpointWritten().check(said.ops).value == 1
    assert ExitCode().check(said.ops).value is None


def test_a_sigkill_restart_a_failed_restart_or_a_non_oms_target_is_not_a_stop() -> None:
    for history in (_run(RESTING, signal="SIGKILL"), _run(RESTING, outcome=OpType.FAIL)):
        assert sigterm_stops(history.ops) == []
        assert OrdersLeftOpen().check(history.ops).value is None
    front_door = HistoryBuilder().run_start().role(BLUE, "active", epoch=1, at=0.5)
    front_door.add(OpKind.ACTION, OpType.INVOKE, "operator", "restart", {**RESTART, "target": "front-door"},
                   at=6.0)
    front_door.add(OpKind.ACTION, OpType.OK, "operator", "restart", {"exit_code": 1, "stopped_s": 0.1},
                   at=7.0)
    assert sigterm_stops(front_door.ops) == []


def test_a_restart_record_that_is_not_one_grades_unknown_with_the_error() -> None:
    observed = observe(ExitCode(), _run(RESTING, exit_code="zero").ops)
    assert (observed.value, observed.unbounded, observed.violated) == (None, False, False)
    assert observed.error is not None
    assert "_RestartOutcome" in observed.error
