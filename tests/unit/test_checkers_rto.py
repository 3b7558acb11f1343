from gameday.checkers import observe
from gameday.checkers.rto import FailoverRto
from gameday.history import OpType
from gameday.scenario import MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ns

RTO = FailoverRto()


def _killed_primary() -> HistoryBuilder:
    history = HistoryBuilder().run_start()
    history.trade(at=9.9, instance="oms-primary")
    return history.fault("kill", at=10.0, target="oms-primary")


def test_rto_is_time_from_fault_until_a_trade_succeeds_on_another_instance() -> None:
    history = _killed_primary()
    history.trade(at=10.5).trade(at=11.5).trade(at=12.5)
    history.trade(at=13.501, instance="oms-dr").trade(at=14.0, instance="oms-dr")

    observation = RTO.check(history.ops)

    assert observation.value == 3.5
    assert observation.evidence["recovered_instance"] == "oms-dr"
    assert observation.evidence["failed_probes"] == 3
    assert observation.evidence["fault_t_ns"] == ns(10.001)
    assert observation.evidence["recovered_t_ns"] == ns(13.501)
    assert grade(MaxBound(max=10), observation) is Verdict.PASS
    assert grade(MaxBound(max=3), observation) is Verdict.FAIL


def test_a_trade_on_the_faulted_instance_is_not_a_recovery() -> None:
    history = _killed_primary()
    history.trade(at=10.2, instance="oms-primary")  # e.g. an answer already in flight
    history.trade(at=16.001, instance="oms-dr")

    assert RTO.check(history.ops).value == 6.0


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
    history = _killed_primary()

    observation = RTO.check(history.ops)

    assert observation.value is None
    assert not observation.unbounded
    assert "no trade probe completed after the fault" in observation.note


def test_partition_of_a_hop_counts_recovery_only_off_both_ends() -> None:
    history = HistoryBuilder().fault("partition", at=5.0, proxy="oms-primary->nats")
    history.trade(at=6.0, instance="oms-primary").trade(at=8.001, instance="oms-dr")

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
