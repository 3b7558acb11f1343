import pytest

from gameday.checkers import observe
from gameday.checkers.positions import PositionMismatch
from gameday.scenario import MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, instance_state, ledger_fill

CHECKER = PositionMismatch()

FILLS = [
    ledger_fill("e1", "oms-primary", "BTC-USD", "buy", 10),
    ledger_fill("e2", "oms-primary", "BTC-USD", "sell", 4),
    ledger_fill("e3", "oms-dr", "BTC-USD", "buy", 3),  # net 9, gross 17
    ledger_fill("e4", "oms-primary", "ETH-USD", "sell", 5),  # net -5, gross 5
]


def _history(dr_positions: dict[str, int], *, active: str | None = "oms-dr") -> HistoryBuilder:
    history = HistoryBuilder().final_state(active=active, instances={
        "oms-primary": instance_state("fenced", {"BTC-USD": 6}),
        "oms-dr": instance_state("active", dr_positions),
    })
    return history.ledger(fills=FILLS)


def test_positions_matching_the_venue_fills_of_every_instance_are_zero_bps() -> None:
    observation = CHECKER.check(_history({"BTC-USD": 9, "ETH-USD": -5}).ops)

    assert observation.value == 0
    expected = {"oms": 9, "ledger": 9, "gross_filled": 17, "bps": 0.0}
    assert observation.evidence["symbols"]["BTC-USD"] == expected
    assert grade(MaxBound(max=0), observation) is Verdict.PASS


def test_a_missed_fill_is_measured_against_the_gross_filled_quantity() -> None:
    observation = CHECKER.check(_history({"BTC-USD": 6, "ETH-USD": -5}).ops)

    assert observation.value == pytest.approx(3 / 17 * 10_000, abs=1e-3)
    assert grade(MaxBound(max=0), observation) is Verdict.FAIL


def test_a_symbol_missing_on_the_oms_side_counts_as_zero() -> None:
    observation = CHECKER.check(_history({"BTC-USD": 9}).ops)

    assert observation.value == 10_000
    assert observation.evidence["symbols"]["ETH-USD"]["oms"] == 0


def test_a_symbol_only_the_oms_holds_is_compared_with_zero_fills() -> None:
    observation = CHECKER.check(_history({"BTC-USD": 9, "ETH-USD": -5, "SOL-USD": 2}).ops)

    assert observation.value == 20_000  # |2 - 0| / max(0, 1)


def test_the_whole_positions_body_is_accepted_too() -> None:
    body = {"positions": {"BTC-USD": 9, "ETH-USD": -5}, "fills": 4}

    assert CHECKER.check(_history(body).ops).value == 0  # type: ignore[arg-type]


def test_no_active_instance_at_the_end_without_failing_probes_is_unknown() -> None:
    history = _history({"BTC-USD": 9}, active=None)
    history.trade(at=41.0, instance="oms-dr")  # a probe that still traded: the two observations disagree

    for ops in (_history({"BTC-USD": 9}, active=None).ops, history.ops):
        observation = CHECKER.check(ops)
        assert observation.value is None
        assert not observation.violated
        assert grade(MaxBound(max=0), observation) is Verdict.UNKNOWN
        assert "no instance reported active" in observation.note


def test_no_active_instance_at_the_end_while_trading_had_stopped_fails() -> None:
    history = _history({"BTC-USD": 9}, active=None)
    history.trade(at=38.0, instance="oms-primary").trade(at=39.0).trade(at=39.5, error="503 not active")

    observation = CHECKER.check(history.ops)

    assert observation.value is None
    assert observation.violated
    assert observation.note == "no instance was active at the end: trading had stopped"
    assert grade(MaxBound(max=0), observation) is Verdict.FAIL


def test_no_final_state_or_no_ledger_is_unknown() -> None:
    only_ledger = HistoryBuilder().ledger(fills=FILLS)
    only_state = HistoryBuilder().final_state(active="oms-dr", instances={"oms-dr": instance_state("active")})

    assert "no final-state" in CHECKER.check(only_ledger.ops).note
    assert "no ledger snapshot" in CHECKER.check(only_state.ops).note
    assert CHECKER.check(only_state.ops).value is None


def test_a_malformed_ledger_grades_unknown_with_the_error() -> None:
    history = _history({"BTC-USD": 9})
    bad = [*FILLS, {**FILLS[0], "exec_id": "e9", "side": "hold"}]
    history.ledger(fills=bad, at=41.0)

    observation = observe(CHECKER, history.ops)

    assert observation.value is None
    assert observation.error is not None
    assert "CheckerError" in observation.error
    assert "side" in observation.error
    assert grade(MaxBound(max=0), observation) is Verdict.UNKNOWN


DEAD_PRIMARY = {"role": None, "positions": None, "open_orders": None}


def test_a_dead_instance_in_the_final_state_does_not_hide_the_active_one() -> None:
    history = HistoryBuilder().final_state(active="oms-dr", instances={
        "oms-primary": DEAD_PRIMARY,
        "oms-dr": instance_state("active", {"BTC-USD": 9, "ETH-USD": -5}),
    }).ledger(fills=FILLS)

    observation = observe(CHECKER, history.ops)

    assert observation.error is None
    assert observation.value == 0


def test_an_active_instance_that_did_not_answer_is_unknown_not_zero() -> None:
    history = HistoryBuilder().final_state(active="oms-dr", instances={
        "oms-dr": {"role": "active", "positions": None, "open_orders": None},
    }).ledger(fills=FILLS)

    observation = observe(CHECKER, history.ops)

    assert observation.value is None
    assert "did not report" in observation.note
    assert grade(MaxBound(max=0), observation) is Verdict.UNKNOWN
