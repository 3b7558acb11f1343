from typing import Any

from gameday.checkers import observe
from gameday.checkers.booked import DuplicateBooked
from gameday.history import OpKind, OpType
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder

CHECKER = DuplicateBooked()


def _booked(history: HistoryBuilder, exec_id: str, *, at: float, instance: str = "oms-primary",
            booked_at: float | None = None) -> HistoryBuilder:
    value: dict[str, Any] = {"instance": instance, "exec_id": exec_id, "order_id": "p-1-1",
                             "symbol": "BTC-USD", "side": "buy", "qty": 2, "price": 100.0}
    return history.sut("fills", value, at=at, happened=booked_at)


def _duplicate_fault(history: HistoryBuilder) -> HistoryBuilder:
    faults = [{"kind": "fault", "t_ns": 1, "fault": "execution_reports", "action": "arm",
               "params": {"mode": "duplicate", "probability": 1.0}}]
    history.ledger()
    snapshot = history.ops[-1]
    history.ops[-1] = snapshot.model_copy(update={"value": {**snapshot.value, "faults": faults}})
    return history


def test_each_execution_booked_once_passes_even_when_the_venue_sent_duplicates() -> None:
    history = _booked(_booked(HistoryBuilder(), "E1", at=1.0), "E2", at=2.0)
    _duplicate_fault(history)

    observation = CHECKER.check(history.ops)

    assert observation.value == 0
    assert observation.evidence["duplicate_fault_armed"] == 1
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


def test_one_execution_booked_twice_by_one_instance_fails() -> None:
    history = _booked(_booked(HistoryBuilder(), "E1", at=1.0), "E1", at=1.2)

    observation = CHECKER.check(history.ops)

    assert observation.value == 1
    assert observation.evidence["listed"][0]["exec_id"] == "E1"
    # told from the first op recorded (no fault, no run start here)
    assert [instant["after_s"] for instant in observation.evidence["listed"][0]["booked"]] == [0.0, 0.2]
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_a_message_published_again_or_a_successors_own_booking_is_no_duplicate() -> None:
    history = _booked(HistoryBuilder(), "E1", at=1.0)
    _booked(history, "E1", at=1.3, booked_at=1.0)  # the same message, re-sent after a lost ack
    _booked(history, "E1", at=9.0, instance="oms-dr")

    assert CHECKER.check(history.ops).value == 0


def test_no_booked_fill_is_unknown_and_a_malformed_one_is_unknown_with_the_error() -> None:
    empty = CHECKER.check(HistoryBuilder().ops)
    broken = HistoryBuilder().add(OpKind.SUT, OpType.INFO, "oms.fills", "fills", {"t_ns": 1}, at=1.0)

    assert empty.value is None
    assert "no oms.fills event" in empty.note
    assert grade(EqualsBound(equals=0), empty) is Verdict.UNKNOWN
    assert observe(CHECKER, broken.ops).error is not None
