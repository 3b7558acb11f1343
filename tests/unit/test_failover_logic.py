"""Failover decisions from injected probe result sequences."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from trading_stack.failover_logic import Decision, FailoverDetector


def run(detector: FailoverDetector, ticks: Sequence[Sequence[bool]]) -> list[Decision]:
    return [detector.observe(tick).decision for tick in ticks]


def test_single_vantage_confirms_after_count_consecutive_failures() -> None:
    detector = FailoverDetector(1, 3)
    decisions = run(detector, [[True], [False], [False], [True], [False], [False], [False], [True]])
    assert decisions == [
        Decision.HEALTHY,
        Decision.SUSPECT,
        Decision.SUSPECT,
        Decision.HEALTHY,
        Decision.SUSPECT,
        Decision.SUSPECT,
        Decision.PROMOTE,
        Decision.PROMOTE,
    ]


def test_multi_vantage_needs_every_vantage_to_fail() -> None:
    detector = FailoverDetector(2, 3)
    # vantage 0 is partitioned from the primary; vantage 1 still sees it healthy
    decisions = run(detector, [[False, True]] * 10)
    assert Decision.PROMOTE not in decisions
    assert decisions[-1] is Decision.SUSPECT
    assert detector.failures == (10, 0)


def test_multi_vantage_promotes_when_all_fail_together() -> None:
    detector = FailoverDetector(2, 2)
    assert run(detector, [[False, True], [False, False], [False, False]]) == [
        Decision.SUSPECT,
        Decision.SUSPECT,
        Decision.PROMOTE,
    ]


def test_single_vantage_defect_promotes_on_one_partitioned_vantage() -> None:
    detector = FailoverDetector(2, 3, any_vantage=True)
    assert run(detector, [[False, True]] * 3)[-1] is Decision.PROMOTE


def test_promotion_disabled_latches_suppressed() -> None:
    detector = FailoverDetector(1, 1, promotion_enabled=False)
    assert run(detector, [[False], [True]]) == [Decision.SUPPRESSED, Decision.SUPPRESSED]


def test_promoted_after_acknowledgement_stays_latched() -> None:
    detector = FailoverDetector(1, 1)
    assert detector.observe([False]).decision is Decision.PROMOTE
    detector.promoted()
    assert detector.observe([True]).decision is Decision.PROMOTED


def test_result_count_must_match_vantages() -> None:
    with pytest.raises(ValueError, match="one result per vantage"):
        FailoverDetector(2, 1).observe([True])
