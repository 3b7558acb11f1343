from gameday.checkers import DEFAULT_CHECKERS
from gameday.history import OpType
from tests.unit.history_builder import HistoryBuilder

FAILED = DEFAULT_CHECKERS["orders.client_failed"]
UNKNOWN = DEFAULT_CHECKERS["orders.client_unknown"]


def _workload() -> HistoryBuilder:
    history = HistoryBuilder()
    for second in range(5):
        history.place(at=second, outcome=OpType.OK)
    history.place(at=10, outcome=OpType.FAIL, error="not active")
    history.place(at=11, outcome=OpType.FAIL, error="not active")
    return history.place(at=12, outcome=OpType.INFO, error="venue did not answer")


def test_failed_placements_are_counted_with_their_errors() -> None:
    observation = FAILED.check(_workload().ops)

    assert observation.value == 2
    assert observation.evidence["invoked"] == 8
    assert observation.evidence["top_errors"] == {"not active": 2}


def test_placements_with_unknown_outcome_are_counted() -> None:
    observation = UNKNOWN.check(_workload().ops)

    assert observation.value == 1
    assert observation.evidence["completed"] == {"ok": 5, "fail": 2, "info": 1}


def test_no_workload_is_unknown() -> None:
    assert FAILED.check(HistoryBuilder().run_start().ops).value is None
