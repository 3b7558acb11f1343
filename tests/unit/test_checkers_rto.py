from gameday.checkers import GradingContext, ScheduledFault, observe
from gameday.checkers.rto import FailoverRto
from gameday.history import OpType
from gameday.scenario import MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ns

RTO = FailoverRto()
HALTED = "Trading halted: BTC-USD"


def _killed_primary() -> HistoryBuilder:
    history = HistoryBuilder().run_start()
    history.trade(at=9.9, instance="oms-primary")
    return history.fault("kill", at=10.0, target="oms-primary")


def _dr_trades(history: HistoryBuilder, start: float, until: float, step: float = 0.5) -> HistoryBuilder:
    at = start
    while at <= until + 1e-9:
        history.trade(at=at, instance="oms-dr")
        at += step
    return history


def test_rto_is_time_from_fault_until_trading_resumes_on_another_instance_and_holds() -> None:
    history = _killed_primary()
    history.trade(at=10.5).trade(at=11.5).trade(at=12.5)
    _dr_trades(history, 13.501, 16.001)

    observation = RTO.check(history.ops)

    assert observation.value == 3.5
    assert observation.evidence["recovered_instance"] == "oms-dr"
    assert observation.evidence["failed_probes"] == 3
    assert observation.evidence["fault_t_ns"] == ns(10.001)
    assert observation.evidence["recovered_t_ns"] == ns(13.501)
    assert observation.evidence["held_until_after_s"] == 5.5
    assert (observation.evidence["hold_s"], observation.evidence["lost_after_recovery"]) == (2.0, 0)
    assert grade(MaxBound(max=10), observation) is Verdict.PASS
    assert grade(MaxBound(max=3), observation) is Verdict.FAIL


def test_a_trade_on_the_faulted_instance_is_not_a_recovery() -> None:
    history = _killed_primary()
    history.trade(at=10.2, instance="oms-primary")  # e.g. an answer already in flight
    _dr_trades(history, 16.001, 18.001)

    assert RTO.check(history.ops).value == 6.0


def test_recovered_then_lost_for_good_fails_with_that_reason() -> None:
    history = _killed_primary()
    history.trade(at=12.001, instance="oms-dr").trade(at=12.5, instance="oms-dr")
    history.trade(at=13.0, error="503 not active").trade(at=20.0, error="503 not active")

    observation = RTO.check(history.ops)

    assert observation.value is None
    assert observation.unbounded
    assert observation.note.startswith("recovered then lost: trading resumed on oms-dr 2.0 s after the fault")
    assert "never came back for good" in observation.note
    assert observation.evidence["losses"] == [{"recovered_instance": "oms-dr", "recovered_after_s": 2.0,
                                               "lost_after_s": 2.999, "lost_error": "503 not active"}]
    assert grade(MaxBound(max=10), observation) is Verdict.FAIL


def test_recovered_then_lost_then_back_for_good_is_measured_to_the_sustained_run() -> None:
    history = _killed_primary()
    history.trade(at=12.001, instance="oms-dr").trade(at=12.5)
    _dr_trades(history, 14.001, 17.001)

    observation = RTO.check(history.ops)

    assert observation.value == 4.0
    assert observation.evidence["lost_after_recovery"] == 1
    assert observation.evidence["failed_probes"] == 1
    assert "recovered then lost 1 time(s)" in observation.note
    assert grade(MaxBound(max=3.9), observation) is Verdict.FAIL


def test_probes_ending_inside_the_hold_are_unknown_unless_trading_was_lost_before() -> None:
    short = _killed_primary()
    short.trade(at=12.001, instance="oms-dr").trade(at=13.0, instance="oms-dr")
    flapping = _killed_primary()
    flapping.trade(at=12.001, instance="oms-dr").trade(at=12.5).trade(at=13.001, instance="oms-dr")

    unknown, lost = RTO.check(short.ops), RTO.check(flapping.ops)

    assert unknown.value is None
    assert not unknown.unbounded
    assert "before the hold of 2.0 s could be confirmed" in unknown.note
    assert grade(MaxBound(max=10), unknown) is Verdict.UNKNOWN
    assert lost.unbounded
    assert "too late in the run to confirm the hold" in lost.note
    assert grade(MaxBound(max=10), lost) is Verdict.FAIL


def test_the_hold_is_the_expectations_to_declare() -> None:
    history = _killed_primary()
    history.trade(at=12.001, instance="oms-dr").trade(at=13.1, instance="oms-dr")
    history.trade(at=13.5).trade(at=20.001, instance="oms-dr").trade(at=22.001, instance="oms-dr")

    no_hold = RTO.check_in(history.ops, GradingContext(hold_ns=0))
    one_s = RTO.check_in(history.ops, GradingContext(hold_ns=1_000_000_000))
    default = RTO.check(history.ops)

    assert (no_hold.value, one_s.value) == (2.0, 2.0)
    assert default.value == 10.0  # lost at 13.5, inside the 2 s hold; back for good from 20.001
    assert observe(RTO, history.ops, GradingContext(hold_ns=0)).value == 2.0


def test_a_venue_halt_of_the_probed_symbol_is_neither_an_outage_nor_a_recovery() -> None:
    history = _killed_primary()
    history.trade(at=12.001, instance="oms-dr", symbol="ETH-USD")
    history.trade(at=12.5, symbol="BTC-USD", rejected=HALTED)
    history.trade(at=13.0, instance="oms-dr", symbol="ETH-USD")
    history.trade(at=13.5, symbol="BTC-USD", rejected=HALTED)
    history.trade(at=14.5, instance="oms-dr", symbol="ETH-USD")

    observation = RTO.check(history.ops)

    assert observation.value == 2.0
    assert observation.evidence["lost_after_recovery"] == 0


def test_an_oms_halt_or_a_venue_reject_for_another_reason_is_an_outage() -> None:
    history = _killed_primary()
    history.trade(at=12.001, instance="oms-dr", symbol="BTC-USD")
    history.trade(at=12.5, symbol="BTC-USD", rejected="Rate limit exceeded")
    _dr_trades(history, 15.001, 17.001)
    other_symbol = _killed_primary()
    other_symbol.trade(at=12.001, instance="oms-dr", symbol="BTC-USD")
    other_symbol.trade(at=12.5, symbol="BTC-USD", rejected="Trading halted: ETH-USD")
    _dr_trades(other_symbol, 15.001, 17.001)

    assert RTO.check(history.ops).value == 5.0
    assert RTO.check(other_symbol.ops).value == 5.0


def test_never_recovered_is_unbounded_and_grades_fail_with_the_last_probe_as_evidence() -> None:
    history = _killed_primary()
    history.trade(at=11.0).trade(at=20.0, error="503 not active")

    observation = RTO.check(history.ops)

    assert observation.value is None
    assert observation.unbounded
    assert observation.evidence["failed_probes"] == 2
    assert observation.evidence["last_probe_error"] == "503 not active"
    assert observation.evidence["last_probe_after_s"] == 9.999
    assert "never recovered" in observation.note
    assert grade(MaxBound(max=10), observation) is Verdict.FAIL


def test_no_fault_in_history_is_unknown() -> None:
    history = HistoryBuilder().run_start().trade(at=1.0, instance="oms-primary")

    observation = RTO.check(history.ops)

    assert observation.value is None
    assert not observation.unbounded
    assert grade(MaxBound(max=10), observation) is Verdict.UNKNOWN
    assert "no kill, pause or partition" in observation.note


def test_a_fault_that_failed_to_apply_or_a_latency_fault_is_no_outage() -> None:
    history = HistoryBuilder().fault("kill", at=10.0, target="oms-primary", outcome=OpType.FAIL)
    history.fault("latency", at=11.0, proxy="failover->oms-primary")
    history.trade(at=12.0, instance="oms-dr")

    assert RTO.check(history.ops).value is None
    assert grade(MaxBound(max=10), RTO.check(history.ops)) is Verdict.UNKNOWN


def test_no_probe_after_the_fault_is_unknown_not_fail() -> None:
    observation = RTO.check(_killed_primary().ops)

    assert observation.value is None
    assert not observation.unbounded
    assert "no trade probe completed after the fault" in observation.note


def test_partition_of_a_hop_counts_recovery_only_off_both_ends() -> None:
    history = HistoryBuilder().fault("partition", at=5.0, proxy="oms-primary->nats")
    history.trade(at=6.0, instance="oms-primary").trade(at=8.001, instance="oms-dr")
    history.trade(at=10.001, instance="oms-dr")

    observation = observe(RTO, history.ops)

    assert observation.value == 3.0
    assert observation.evidence["affected"] == ["nats", "oms-primary"]


def test_an_outage_of_a_service_the_trading_instance_survives_has_no_failover_to_time() -> None:
    history = HistoryBuilder().run_start().trade(at=7.9, instance="oms-primary")
    history.fault("kill", at=8.0, target="postgres").trade(at=8.1, instance="oms-primary")

    observation = RTO.check(history.ops)

    assert observation.value is None
    assert not observation.unbounded
    assert observation.evidence["trading_before"] == "oms-primary"
    assert "no failover to time" in observation.note
    assert grade(MaxBound(max=10), observation) is Verdict.UNKNOWN


def _two_kills_at_once(first: str, second: str) -> HistoryBuilder:
    """Two kills scheduled at 8 s, applied in list order: ``f1`` on ``first``, ``f2`` on ``second``."""
    history = HistoryBuilder().run_start().trade(at=7.9, instance="oms-primary")
    history.fault("kill", at=8.0, target=first, fault_id="f1-kill")
    history.fault("kill", at=8.01, target=second, fault_id="f2-kill")
    history.trade(at=8.2, error="503 not active")
    return _dr_trades(history, 10.5, 13.0)


SAME_INSTANT = GradingContext(faults=(ScheduledFault("f1-kill", "kill", 8_000_000_000),
                                      ScheduledFault("f2-kill", "kill", 8_000_000_000)))


def test_faults_at_one_instant_anchor_on_the_trading_instance_whatever_their_order() -> None:
    postgres_first = RTO.check_in(_two_kills_at_once("postgres", "oms-primary").ops, SAME_INSTANT)
    primary_first = RTO.check_in(_two_kills_at_once("oms-primary", "postgres").ops, SAME_INSTANT)

    assert postgres_first.evidence["affected"] == primary_first.evidence["affected"] == ["oms-primary"]
    assert postgres_first.evidence["anchor"] == "first outage of the instance that was trading"
    assert postgres_first.value is not None
    assert primary_first.value is not None
    assert abs(postgres_first.value - primary_first.value) < 0.02


def test_an_earlier_outage_that_spared_the_trading_instance_does_not_anchor_the_rto() -> None:
    history = HistoryBuilder().run_start().trade(at=4.9, instance="oms-primary")
    history.fault("kill", at=5.0, target="postgres").trade(at=6.0, instance="oms-primary")
    history.fault("kill", at=8.0, target="oms-primary").trade(at=9.0)
    _dr_trades(history, 10.001, 12.001)

    observation = RTO.check(history.ops)

    assert observation.value == 2.0
    assert observation.evidence["affected"] == ["oms-primary"]


def test_from_names_the_fault_the_rto_is_measured_from() -> None:
    history = HistoryBuilder().run_start().trade(at=4.9, instance="oms-primary")
    history.fault("partition", at=5.0, proxy="oms-primary->exchange")
    history.fault("kill", at=8.0, target="oms-primary", fault_id="f2-kill")
    _dr_trades(history, 10.001, 12.001)
    context = GradingContext(anchor="f2-kill")

    named = RTO.check_in(history.ops, context)
    default = RTO.check(history.ops)
    missing = RTO.check_in(history.ops, GradingContext(anchor="f9-kill"))

    assert (named.value, named.evidence["anchor"]) == (2.0, "from: f2-kill")
    assert default.value == 5.0  # the partition took the trading instance out first
    assert missing.value is None
    assert "f9-kill" in missing.note
    assert grade(MaxBound(max=10), missing) is Verdict.UNKNOWN
