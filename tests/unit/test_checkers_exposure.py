from typing import Any

import pytest

from gameday.checkers import DEFAULT_CHECKERS
from gameday.checkers.exposure import ExposureBeyondIntended, excess_over_intended
from gameday.history import OpKind, OpType
from gameday.scenario import MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ledger_fill

CHECKER = ExposureBeyondIntended()


def _intent(history: HistoryBuilder, intent: str, *, symbol: str = "BTC-USD", side: str = "buy", qty: int = 3,
            worker: str = "worker-0", at: float = 1.0) -> HistoryBuilder:
    value: dict[str, Any] = {"symbol": symbol, "side": side, "qty": qty, "type": "market", "price": None,
                             "intent": intent}
    return history.add(OpKind.CLIENT, OpType.INVOKE, worker, "place", value, at=at)


def _broadcast(history: HistoryBuilder, intent: str, **kwargs: Any) -> HistoryBuilder:
    """The intent sent to both instances, as the broadcast workload records it."""
    _intent(history, intent, worker="worker-0@oms-primary", **kwargs)
    return _intent(history, intent, worker="worker-0@oms-dr", **kwargs)


def test_every_intent_traded_once_reads_zero_though_each_went_to_two_instances() -> None:
    history = _broadcast(_broadcast(HistoryBuilder(), "71:intent-0", qty=3), "71:intent-1", qty=2)
    history.ledger(fills=[ledger_fill("E1", "oms-primary", "BTC-USD", "buy", 3),
                          ledger_fill("E2", "oms-primary", "BTC-USD", "buy", 2)])

    observation = CHECKER.check(history.ops)

    assert observation.value == 0
    assert observation.evidence["intents"] == 2
    assert observation.evidence["symbols"]["BTC-USD"] == {
        "intended": 5, "venue": 5, "intents_gross": 5, "excess_lots": 0, "ratio": 0.0}
    assert grade(MaxBound(max=0), observation) is Verdict.PASS


def test_every_intent_traded_by_both_regions_reads_one_intended_position_too_many() -> None:
    history = _broadcast(_broadcast(HistoryBuilder(), "71:intent-0", qty=3), "71:intent-1", qty=2)
    fills = [ledger_fill(f"{instance}-{n}", instance, "BTC-USD", "buy", qty)
             for instance in ("oms-primary", "oms-dr") for n, qty in enumerate((3, 2))]
    history.ledger(fills=fills)

    observation = CHECKER.check(history.ops)

    assert observation.value == 1.0
    assert observation.evidence["symbols"]["BTC-USD"]["venue"] == 10
    assert "venue 10 against 5 intended" in observation.note
    assert grade(MaxBound(max=0), observation) is Verdict.FAIL


def test_an_intent_nobody_traded_is_less_exposure_not_more() -> None:
    history = _broadcast(_broadcast(HistoryBuilder(), "71:intent-0", qty=3), "71:intent-1", qty=2)
    history.ledger(fills=[ledger_fill("E1", "oms-primary", "BTC-USD", "buy", 3)])

    assert CHECKER.check(history.ops).value == 0


def test_the_worst_symbol_decides_and_a_symbol_no_intent_named_counts_against_all_intents() -> None:
    history = _intent(_intent(HistoryBuilder(), "i-0", qty=4), "i-1", symbol="ETH-USD", side="sell", qty=4)
    history.ledger(fills=[ledger_fill("E1", "oms-primary", "BTC-USD", "buy", 4),
                          ledger_fill("E2", "oms-primary", "ETH-USD", "sell", 6),
                          ledger_fill("E3", "oms-primary", "SOL-USD", "buy", 2)])

    observation = CHECKER.check(history.ops)

    assert observation.evidence["symbols"]["ETH-USD"]["ratio"] == 0.5
    assert observation.evidence["symbols"]["SOL-USD"]["ratio"] == 0.25
    assert observation.value == 0.5


@pytest.mark.parametrize(("venue", "intended", "excess"), [
    (10, 5, 5), (5, 5, 0), (3, 5, 0), (-10, -5, 5), (-2, 5, 7), (0, 5, 0), (4, 0, 4), (0, 0, 0)])
def test_excess_counts_lots_past_the_intent_and_the_whole_gap_on_the_wrong_side(
        venue: int, intended: int, excess: int) -> None:
    assert excess_over_intended(venue, intended) == excess


def test_without_intents_or_a_ledger_the_value_is_unknown_not_zero() -> None:
    no_intents = HistoryBuilder().ledger(fills=[ledger_fill("E1", "oms-primary", "BTC-USD", "buy", 3)])
    assert CHECKER.check(no_intents.ops).value is None
    no_ledger = _intent(HistoryBuilder(), "i-0")
    observation = CHECKER.check(no_ledger.ops)
    assert observation.value is None
    assert observation.note == "no ledger snapshot in the history"


def test_malformed_intent_records_are_counted_not_trusted() -> None:
    history = _intent(HistoryBuilder(), "i-0", qty=2)
    history.add(OpKind.CLIENT, OpType.INVOKE, "worker-1", "place", {"intent": "i-1", "qty": "lots"}, at=1.5)
    history.ledger(fills=[ledger_fill("E1", "oms-primary", "BTC-USD", "buy", 2)])

    observation = CHECKER.check(history.ops)

    assert observation.value == 0
    assert observation.evidence["unreadable"] == 1


def test_the_checker_is_registered_by_its_name() -> None:
    assert isinstance(DEFAULT_CHECKERS["exposure.beyond_intended"], ExposureBeyondIntended)
