from gameday.checkers.evidence import LedgerOrder
from gameday.checkers.writers import ConcurrentWriters, WriterSpan, max_overlap, writer_spans
from gameday.scenario import MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ledger_order

CHECKER = ConcurrentWriters()


def _primary_orders(*times: float) -> list[dict[str, object]]:
    return [ledger_order(f"oms-primary-1-{n}", "oms-primary", t) for n, t in enumerate(times)]


def _dr_orders(*times: float) -> list[dict[str, object]]:
    return [ledger_order(f"oms-dr-1-{n}", "oms-dr", t) for n, t in enumerate(times)]


def test_primary_then_dr_is_one_writer_at_a_time() -> None:
    history = HistoryBuilder().ledger(orders=_primary_orders(1, 5, 9.9) + _dr_orders(14, 20))

    observation = CHECKER.check(history.ops)

    assert observation.value == 1
    assert observation.evidence["violations"] == []
    assert observation.evidence["writers"]["oms-dr"]["orders"] == 2
    assert grade(MaxBound(max=1), observation) is Verdict.PASS


def test_an_old_primary_sending_after_the_dr_started_makes_two_writers() -> None:
    history = HistoryBuilder().ledger(orders=_primary_orders(1, 5, 15, 16) + _dr_orders(14, 20))

    observation = CHECKER.check(history.ops)

    assert observation.value == 2
    assert grade(MaxBound(max=1), observation) is Verdict.FAIL
    [violation] = observation.evidence["violations"]
    assert (violation["superseded"], violation["successor"]) == ("oms-primary", "oms-dr")
    assert [order["cl_ord_id"] for order in violation["orders"]] == ["oms-primary-1-2", "oms-primary-1-3"]
    assert violation["orders"][0]["after_successor_s"] == 1.0


def test_no_orders_in_the_ledger_is_unknown() -> None:
    observation = CHECKER.check(HistoryBuilder().ledger(orders=[]).ops)

    assert observation.value is None
    assert grade(MaxBound(max=1), observation) is Verdict.UNKNOWN
    assert CHECKER.check([]).value is None


def test_overlap_counts_the_most_spans_at_one_instant() -> None:
    spans = [WriterSpan("a", 0, 10, 2), WriterSpan("b", 5, 20, 2), WriterSpan("c", 8, 9, 2),
             WriterSpan("d", 30, 40, 1)]

    assert max_overlap(spans) == 3
    assert max_overlap([WriterSpan("a", 0, 10, 2), WriterSpan("b", 10, 12, 2)]) == 2  # closed intervals
    assert max_overlap([WriterSpan("a", 0, 10, 2), WriterSpan("b", 11, 12, 2)]) == 1
    assert max_overlap([]) == 0


def test_writer_spans_skip_unattributed_orders() -> None:
    orders = [LedgerOrder.model_validate(order) for order in _primary_orders(1, 3)]
    orders.append(LedgerOrder.model_validate({**ledger_order("x", "oms-dr", 2), "instance": None}))

    assert [(span.instance, span.orders) for span in writer_spans(orders)] == [("oms-primary", 2)]
