import math

import pytest

from gameday.checkers import observe
from gameday.checkers.replication import ReplicationLag
from gameday.scenario import MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ns

CHECKER = ReplicationLag()


def _sampled(*lags_ms: float, start: float = 8.0, fault: str = "kill") -> HistoryBuilder:
    """Samples every 0.25 s from ``start``; the fault is applied at 9.0 s (9.001 s once acknowledged)."""
    history = HistoryBuilder().run_start()
    history.fault(fault, at=9.0, target="oms-primary")
    for n, lag in enumerate(lags_ms):
        history.replication(lag, at=start + n * 0.25, backlog=round(lag))
    return history


def test_the_lag_is_the_largest_sample_with_the_peak_and_the_lag_before_the_outage() -> None:
    observation = CHECKER.check(_sampled(20, 35, 30, 40, 1250, 800, 60, start=8.1).ops)

    assert observation.value == 1.25
    assert observation.evidence["peak"] == {"instance": "oms-dr", "lag_s": 1.25, "backlog": 1250,
                                            "t_ns": ns(9.1), "after_s": 0.099}
    assert observation.evidence["before_first_outage"] == {
        "instance": "oms-dr", "lag_s": 0.04, "backlog": 40, "t_ns": ns(8.85), "after_s": -0.151,
        "fault": "kill", "fault_id": "kill-0",
    }
    assert observation.evidence["samples"] == 7
    assert grade(MaxBound(max=2), observation) is Verdict.PASS
    assert grade(MaxBound(max=1), observation) is Verdict.FAIL
    assert observation.note == "peak lag 1.25 s on oms-dr (1250 behind), 7 samples"


def test_the_sample_before_the_outage_is_the_last_one_taken_before_the_fault_was_applied() -> None:
    history = _sampled(20, 50, start=8.5)
    history.replication(70, at=9.0005).replication(800, at=9.001).replication(90, at=9.5)

    observation = CHECKER.check(history.ops)

    assert observation.evidence["before_first_outage"]["lag_s"] == 0.07
    assert observation.evidence["peak"]["lag_s"] == 0.8


def test_samples_are_ordered_by_when_they_were_taken_not_recorded() -> None:
    history = _sampled(20)
    history.replication(500, at=12.0, happened=8.9).replication(10, at=12.1, happened=8.5)

    evidence = CHECKER.check(history.ops).evidence

    assert evidence["before_first_outage"]["lag_s"] == 0.5
    assert evidence["peak"]["t_ns"] == ns(8.9)


def test_of_equal_peaks_the_earliest_is_reported() -> None:
    history = _sampled(300, 10, 300)

    assert CHECKER.check(history.ops).evidence["peak"]["t_ns"] == ns(8.0)


def test_without_an_outage_fault_there_is_no_lag_before_it() -> None:
    history = HistoryBuilder().fault("latency", at=1.0, proxy="oms-primary->nats")
    history.replication(40, at=2.0, instance="oms-dr").replication(90, at=2.5, instance="oms-blue")

    observation = CHECKER.check(history.ops)

    assert observation.value == 0.09
    assert observation.evidence["before_first_outage"] is None
    assert observation.evidence["instances"] == ["oms-blue", "oms-dr"]


def test_no_sample_is_unknown() -> None:
    observation = CHECKER.check(HistoryBuilder().run_start().fault("kill", at=9.0, target="oms-primary").ops)

    assert observation.value is None
    assert observation.note == "replication lag not recorded"
    assert grade(MaxBound(max=1), observation) is Verdict.UNKNOWN


@pytest.mark.parametrize(("sample", "complaint"), [
    ({"instance": "oms-dr", "lag_ms": -5, "backlog": 0}, "lag_ms"),
    ({"instance": "oms-dr", "lag_ms": math.nan, "backlog": 0}, "lag_ms"),
    ({"instance": "oms-dr", "lag_ms": 5}, "backlog"),
    ({"lag_ms": 5, "backlog": 0}, "instance"),
])
def test_a_malformed_sample_grades_unknown_with_the_error(sample: dict[str, object], complaint: str) -> None:
    history = _sampled(20).sut("replication", sample, at=10.0)

    observation = observe(CHECKER, history.ops)

    assert observation.error is not None
    assert "CheckerError" in observation.error
    assert "ReplicationSample" in observation.error
    assert complaint in observation.error
    assert grade(MaxBound(max=1), observation) is Verdict.UNKNOWN
