from gameday.checkers.availability import AvailableAtEnd, TradingUnavailable
from gameday.checkers.gap import TradingGap
from gameday.scenario import EqualsBound, MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, failover_history, instance_state

AT_END = AvailableAtEnd()
UNAVAILABLE = TradingUnavailable()
HALTED = "Trading halted: BTC-USD"


def _ending(*, active: str | None) -> HistoryBuilder:
    history = HistoryBuilder().run_start().trade(at=1.0, instance="oms-primary")
    return history.fault("kill", at=2.0, target="oms-primary")


def _final(history: HistoryBuilder, active: str | None) -> HistoryBuilder:
    return history.final_state(active=active, instances={
        "oms-primary": {"role": None, "positions": None, "open_orders": None},
        "oms-dr": instance_state("active" if active else "standby"),
    })


def test_an_active_instance_and_a_successful_last_probe_is_available() -> None:
    history = _ending(active="oms-dr").trade(at=3.0).trade(at=4.0, instance="oms-dr")
    history.trade(at=4.1, instance="oms-dr")

    observation = AT_END.check(_final(history, "oms-dr").ops)

    assert observation.value == 1
    assert observation.evidence["successes_at_end"] == 2
    assert observation.evidence["last_probe"]["instance"] == "oms-dr"
    assert grade(EqualsBound(equals=1), observation) is Verdict.PASS


def test_no_active_instance_and_failing_probes_is_unavailable_and_fails() -> None:
    history = _ending(active=None).trade(at=3.0).trade(at=4.0, error="503 not active")

    observation = AT_END.check(_final(history, None).ops)

    assert observation.value == 0
    assert observation.note.startswith("no instance was active at the end: trading had stopped")
    assert observation.evidence["failures_at_end"] == 2
    assert observation.evidence["roles"] == {"oms-primary": None, "oms-dr": "standby"}
    assert grade(EqualsBound(equals=1), observation) is Verdict.FAIL


def test_an_active_instance_whose_last_probe_failed_is_unavailable() -> None:
    history = _ending(active="oms-dr").trade(at=3.0, instance="oms-dr").trade(at=4.0, error="timeout")

    observation = AT_END.check(_final(history, "oms-dr").ops)

    assert observation.value == 0
    assert "the last 1 trade probes failed (timeout)" in observation.note


def test_a_venue_halt_at_the_end_does_not_make_the_stack_unavailable() -> None:
    history = _ending(active="oms-dr").trade(at=3.0, instance="oms-dr", symbol="ETH-USD")
    history.trade(at=3.1, symbol="BTC-USD", rejected=HALTED)

    assert AT_END.check(_final(history, "oms-dr").ops).value == 1


def test_availability_at_the_end_is_unknown_without_evidence_or_when_the_evidence_disagrees() -> None:
    no_final = _ending(active=None).trade(at=3.0)
    no_probe = _final(HistoryBuilder().run_start(), "oms-dr")
    disagree = _final(_ending(active=None).trade(at=3.0, instance="oms-dr"), None)

    for history in (no_final, no_probe, disagree):
        observation = AT_END.check(history.ops)
        assert observation.value is None
        assert grade(EqualsBound(equals=1), observation) is Verdict.UNKNOWN
    assert "disagree" in AT_END.check(disagree.ops).note


def test_the_failover_histories_read_available_and_unavailable() -> None:
    assert AT_END.check(failover_history().ops).value == 1
    assert AT_END.check(failover_history(recovered=False).ops).value == 0


def test_unavailability_sums_every_stretch_without_trading_once_trading_had_started() -> None:
    history = HistoryBuilder().run_start().trade(at=0.5).trade(at=1.0, instance="oms-primary")
    history.trade(at=2.0).trade(at=3.0, instance="oms-primary")  # 2 s: 1.0 -> 3.0
    history.trade(at=4.0, instance="oms-primary").trade(at=4.5).trade(at=5.0).trade(at=5.5, instance="oms-dr")
    history.trade(at=9.0, instance="oms-dr")  # a slow probe: no failure, no unavailability

    observation = UNAVAILABLE.check(history.ops)

    assert observation.value == 3.5
    assert observation.evidence["stretches"] == 2
    assert observation.evidence["longest_s"] == 2.0
    assert observation.evidence["listed"][1]["failed_probes"] == 2
    assert observation.evidence["unrecovered_at_end"] is False
    assert grade(MaxBound(max=3), observation) is Verdict.FAIL
    assert grade(MaxBound(max=4), observation) is Verdict.PASS


def test_unavailability_runs_to_the_last_attempt_when_trading_never_came_back() -> None:
    observation = UNAVAILABLE.check(failover_history(recovered=False).ops)

    assert observation.value == 7.0  # last success 5.0, last attempt 12.0
    assert observation.evidence["unrecovered_at_end"] is True
    assert "had not come back" in observation.note


def test_unavailability_leaves_out_venue_halts_and_is_unknown_without_a_success() -> None:
    history = HistoryBuilder().trade(at=1.0, instance="oms-dr", symbol="ETH-USD")
    history.trade(at=1.5, symbol="BTC-USD", rejected=HALTED)
    history.trade(at=2.0, instance="oms-dr", symbol="ETH-USD")

    assert UNAVAILABLE.check(history.ops).value == 0.0
    assert UNAVAILABLE.check(HistoryBuilder().trade(at=1.0).ops).value is None


def test_the_gap_leaves_out_venue_halts_too() -> None:
    history = HistoryBuilder().trade(at=1.0, instance="oms-dr", symbol="ETH-USD")
    history.trade(at=1.5, symbol="BTC-USD", rejected=HALTED)
    history.trade(at=2.0, instance="oms-dr", symbol="ETH-USD")
    history.trade(at=3.0, symbol="BTC-USD", rejected=HALTED)

    observation = TradingGap().check(history.ops)

    assert observation.value == 1.0
    assert observation.evidence["failed_probes"] == 0
    assert observation.evidence["until_last_attempt"] is False
