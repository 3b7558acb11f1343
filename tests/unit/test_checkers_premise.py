"""A premised checker: unknown with the reason when its premise is absent, graded on it when found."""

from __future__ import annotations

from collections.abc import Sequence

from gameday.checker_specs import CheckerSpec
from gameday.checkers import Observation, observe
from gameday.checkers.premise import NO_LEDGER, PremisedChecker, ledger_or_reason
from gameday.history import Op, OpKind
from gameday.units import Unit
from tests.unit.history_builder import HistoryBuilder, ledger_order

SPEC = CheckerSpec("test.faults_seen", Unit.COUNT)


class FaultsSeen(PremisedChecker[list[Op]]):
    """Counts the faults of a history, premised on there being one."""

    spec = SPEC
    description = "faults in the history"

    def __init__(self) -> None:
        self.graded: list[list[Op]] = []

    def premise(self, ops: Sequence[Op]) -> list[Op] | str:
        faults = [op for op in ops if op.kind == OpKind.FAULT]
        return faults or "no fault in the history"

    def grade(self, premise: list[Op], ops: Sequence[Op]) -> Observation:
        self.graded.append(premise)
        return Observation(value=len(premise), unit=self.unit, note=f"{len(premise)} fault op(s)")


def test_an_absent_premise_is_unknown_with_its_reason_in_the_checkers_unit_and_nothing_is_graded() -> None:
    checker = FaultsSeen()
    observation = checker.check(HistoryBuilder().run_start().ops)
    assert (observation.value, observation.unit) == (None, Unit.COUNT)
    assert observation.note == "no fault in the history"
    assert (observation.violated, observation.unbounded) == (False, False)
    assert checker.graded == []


def test_a_found_premise_is_what_is_graded() -> None:
    history = HistoryBuilder().run_start().fault("kill", at=1.0, target="oms-primary")
    checker = FaultsSeen()
    observation = checker.check(history.ops)
    faults = [op for op in history.ops if op.kind == OpKind.FAULT]
    assert checker.graded == [faults]
    assert observation.value == len(faults) > 0


def test_a_premised_checker_is_named_and_measured_by_its_spec() -> None:
    checker = FaultsSeen()
    assert (checker.name, checker.unit, checker.options) == ("test.faults_seen", Unit.COUNT, frozenset())


def test_a_grade_that_raises_is_unknown_with_the_error_not_a_crash() -> None:
    class Crashing(FaultsSeen):
        def grade(self, premise: list[Op], ops: Sequence[Op]) -> Observation:
            raise KeyError("exit_code")

    history = HistoryBuilder().run_start().fault("kill", at=1.0, target="oms-primary")
    observation = observe(Crashing(), history.ops)
    assert observation.value is None
    assert observation.error == "KeyError: 'exit_code'"


def test_the_ledger_or_why_there_is_none() -> None:
    assert ledger_or_reason(HistoryBuilder().run_start().ops) == NO_LEDGER
    with_ledger = HistoryBuilder().run_start().ledger(orders=[ledger_order("o1", "oms-primary", 1.0)])
    timeline = ledger_or_reason(with_ledger.ops)
    assert not isinstance(timeline, str)
    assert [order.cl_ord_id for order in timeline.orders] == ["o1"]
