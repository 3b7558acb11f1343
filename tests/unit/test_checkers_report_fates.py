from typing import Any

import pytest

from gameday.checkers import DEFAULT_CHECKERS
from gameday.checkers.report_fates import ReportFateCount
from gameday.scenario import MinBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder


def _snapshot(**extra: Any) -> HistoryBuilder:
    history = HistoryBuilder().ledger()
    history.ops[-1] = history.ops[-1].model_copy(update={"value": {**history.ops[-1].value, **extra}})
    return history


@pytest.mark.parametrize(("name", "count"), [("reports.dropped", 4), ("reports.duplicated", 7),
                                             ("reports.delayed", 0)])
def test_each_fate_reads_the_venues_count(name: str, count: int) -> None:
    history = _snapshot(report_fates={"drop": 4, "duplicate": 7, "delay": 0})

    observation = DEFAULT_CHECKERS[name].check(history.ops)

    assert observation.value == count
    assert grade(MinBound(min=1), observation) is (Verdict.PASS if count else Verdict.FAIL)


@pytest.mark.parametrize("fates", [None, "many", {"drop": -1}, {"drop": True}, {"drop": 1.5}, {}])
def test_a_venue_that_keeps_no_count_reads_unknown_not_zero(fates: Any) -> None:
    history = _snapshot() if fates is None else _snapshot(report_fates=fates)

    observation = ReportFateCount("dropped").check(history.ops)

    assert observation.value is None
    assert observation.note == "the venue's ledger keeps no count of report fates"


def test_no_ledger_reads_unknown() -> None:
    assert ReportFateCount("delayed").check([]).value is None
