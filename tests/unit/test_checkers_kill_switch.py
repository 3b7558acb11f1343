"""The manual kill switch graded from the ledger: entries while tripped (from any instance), time to
halt, time to flat, time to trade again after the re-arm."""

from __future__ import annotations

from typing import Any

from gameday.checkers.kill_switch import EntriesWhileTripped, ManualTimeToFlat, ManualTimeToHalt, TimeToResume
from gameday.history import OpType
from gameday.scenario import EqualsBound, MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import fill, ledger, order, run_start
from tests.unit.history_builder import HistoryBuilder

PRIMARY, DR = "oms-primary", "oms-dr"
KILL = {"at": "3s", "action": "kill-switch", "target": PRIMARY, "operator": "desk-head"}
REARM = {"at": "12s", "action": "rearm", "target": DR, "operator": "desk-head"}


def _built_then_flattened() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Long 5 at 1 s; the kill switch at 3 s flattens it at 3.2 s and cancels a resting order."""
    orders = [order("p1", PRIMARY, 1.0, qty=5), order("p2", PRIMARY, 2.0, status="canceled", closed_s=3.1),
              order("p3", PRIMARY, 3.2, side="sell", qty=5, closed_s=3.21)]
    fills = [fill("e1", PRIMARY, 1.01, qty=5), fill("e3", PRIMARY, 3.21, side="sell", qty=5)]
    return orders, fills


def _history(orders: list[dict[str, Any]], fills: list[dict[str, Any]], *, rearm: OpType | None = OpType.OK,
             kill: OpType = OpType.OK) -> HistoryBuilder:
    history = run_start(HistoryBuilder())
    for second in range(1, 17):  # the workload runs 16 s
        history.place(at=float(second), outcome=OpType.OK)
    history.action("kill-switch", KILL, at=3.0, outcome=kill)
    if rearm is not None:
        history.action("rearm", REARM, at=12.0, outcome=rearm)
    return ledger(history, orders, fills)


def test_a_halt_that_holds_across_the_failover_until_the_rearm() -> None:
    orders, fills = _built_then_flattened()
    orders.append(order("d1", DR, 12.3))  # trading again after the re-arm
    history = _history(orders, fills)
    entries = EntriesWhileTripped().check(history.ops)
    assert entries.value == 0
    assert grade(EqualsBound(equals=0), entries) is Verdict.PASS
    assert ManualTimeToHalt().check(history.ops).value == 0.0
    flat = ManualTimeToFlat().check(history.ops)
    assert flat.value == 0.21
    assert grade(MaxBound(max=5), flat) is Verdict.PASS
    resumed = TimeToResume().check(history.ops)
    assert resumed.value == 0.299
    assert resumed.evidence["first_entry"]["cl_ord_id"] == "d1"


def test_a_dr_that_trades_while_tripped_is_counted_by_instance_and_never_halted() -> None:
    orders, fills = _built_then_flattened()
    orders += [order(f"d{n}", DR, 8.0 + n * 0.5) for n in range(8)]  # from 8 s to 11.5 s
    history = _history(orders, fills, rearm=OpType.FAIL)  # nothing to re-arm on the DR
    entries = EntriesWhileTripped().check(history.ops)
    assert (entries.value, entries.evidence["by_instance"]) == (8, {DR: 8})
    assert grade(EqualsBound(equals=0), entries) is Verdict.FAIL
    halt = ManualTimeToHalt().check(history.ops)
    assert (halt.value, halt.evidence["entries"]) == (8.5, 8)  # the last at 11.5 s: stopped before 16 s
    assert grade(MaxBound(max=1), halt) is Verdict.FAIL
    assert TimeToResume().check(history.ops).value is None  # no re-arm succeeded: unknown


def test_entries_still_arriving_at_the_rearm_never_halted() -> None:
    orders, fills = _built_then_flattened()
    orders += [order(f"d{n}", DR, 8.0 + n * 0.5) for n in range(8)] + [order("d9", DR, 11.8)]
    halt = ManualTimeToHalt().check(_history(orders, fills).ops)
    assert halt.unbounded
    assert grade(MaxBound(max=1), halt) is Verdict.FAIL


def test_orders_already_on_the_wire_when_the_switch_answered_are_listed_not_counted() -> None:
    orders, fills = _built_then_flattened()
    orders.append(order("p9", PRIMARY, 3.03))  # the action answered at 3.001 s: within 50 ms
    entries = EntriesWhileTripped().check(_history(orders, fills).ops)
    assert entries.value == 0
    assert [o["cl_ord_id"] for o in entries.evidence["in_flight"]] == ["p9"]


def test_no_kill_switch_no_ledger_or_no_flat_is_said() -> None:
    orders, fills = _built_then_flattened()
    failed = _history(orders, fills, kill=OpType.FAIL)
    assert EntriesWhileTripped().check(failed.ops).note == "no kill-switch action succeeded"
    unflattened = _history(orders[:2], fills[:1])
    flat = ManualTimeToFlat().check(unflattened.ops)
    assert flat.unbounded
    no_ledger = HistoryBuilder().action("kill-switch", KILL, at=3.0)
    assert ManualTimeToHalt().check(no_ledger.ops).value is None
