"""Execution-report faults of mode ``mixed``: each report dropped, repeated or delayed by one roll."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import (
    ExecutionReports,
    FaultKind,
    FaultParamsError,
    ReportFaultMode,
    ReportMix,
    parse_fault,
)

MIX = {"drop": 0.1, "duplicate": 0.2, "delay": 0.3}


def _mixed(**extra: Any) -> ExecutionReports:
    fault = parse_fault(FaultKind.EXECUTION_REPORTS, {"mode": "mixed", "mix": MIX, "delay_s": 0.5, **extra})
    assert isinstance(fault, ExecutionReports)
    return fault


@pytest.mark.parametrize(("roll", "fate"), [
    (0.0, ReportFaultMode.DROP), (0.0999, ReportFaultMode.DROP), (0.1, ReportFaultMode.DUPLICATE),
    (0.2999, ReportFaultMode.DUPLICATE), (0.3001, ReportFaultMode.DELAY), (0.5999, ReportFaultMode.DELAY),
    (0.6001, None), (0.9999, None)])
def test_one_roll_picks_one_fate_in_the_order_drop_duplicate_delay(roll: float,
                                                                   fate: ReportFaultMode | None) -> None:
    assert ReportMix.model_validate(MIX).pick(roll) is fate


def test_a_mixed_fault_hands_out_each_fate_about_as_often_as_asked_and_counts_them() -> None:
    board = FaultBoard(seed=3)
    board.arm(_mixed())

    fates = Counter(None if fault is None else fault.mode for fault in
                    (board.report_fault("A", fill=True) for _ in range(10_000)))

    assert fates.keys() == {ReportFaultMode.DROP, ReportFaultMode.DUPLICATE, ReportFaultMode.DELAY, None}
    assert 850 < fates[ReportFaultMode.DROP] < 1150
    assert 1800 < fates[ReportFaultMode.DUPLICATE] < 2200
    assert 2700 < fates[ReportFaultMode.DELAY] < 3300
    assert board.report_fates() == {"drop": fates[ReportFaultMode.DROP],
                                    "duplicate": fates[ReportFaultMode.DUPLICATE],
                                    "delay": fates[ReportFaultMode.DELAY]}


def test_a_delayed_fate_keeps_the_faults_delay_and_the_rolls_are_seeded() -> None:
    def fates(seed: int) -> list[ReportFaultMode | None]:
        board = FaultBoard(seed=seed)
        board.arm(_mixed())
        picked = [board.report_fault("A", fill=True) for _ in range(200)]
        assert all(fault.delay_s == 0.5 for fault in picked if fault is not None)
        return [None if fault is None else fault.mode for fault in picked]

    assert fates(1) == fates(1)
    assert fates(1) != fates(2)


def test_single_mode_faults_are_counted_under_their_mode() -> None:
    board = FaultBoard(seed=1)
    board.arm(ExecutionReports(mode=ReportFaultMode.DUPLICATE))
    for _ in range(5):
        board.report_fault("A", fill=True)

    assert board.report_fates() == {"drop": 0, "duplicate": 5, "delay": 0}


@pytest.mark.parametrize(("params", "problem"), [
    ({"mode": "mixed"}, "mix is required with mode mixed"),
    ({"mode": "drop", "mix": MIX}, "mix is required with mode mixed, and only with it"),
    ({"mode": "mixed", "mix": MIX, "delay_s": 0.5, "probability": 0.5}, "not probability"),
    ({"mode": "mixed", "mix": {"delay": 0.2}}, "delay_s must be > 0"),
    ({"mode": "mixed", "mix": {"drop": 0.6, "duplicate": 0.6}}, "in (0, 1], got 1.2"),
    ({"mode": "mixed", "mix": {}}, "in (0, 1], got 0"),
    ({"mode": "mixed", "mix": {"drop": 0.1, "resend": 0.1}}, "resend"),
    ({"mode": "mixed", "mix": {"drop": -0.1}}, "drop"),
])
def test_a_mix_that_cannot_be_played_is_refused_naming_why(params: dict[str, Any], problem: str) -> None:
    with pytest.raises(FaultParamsError) as refused:
        parse_fault(FaultKind.EXECUTION_REPORTS, params)
    assert problem in str(refused.value)
