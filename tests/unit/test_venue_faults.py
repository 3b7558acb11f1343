"""Fault models, the fault board's state (rate windows, bans, cooldowns) and the market clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import (
    CancelFailure,
    CancelFailureMode,
    ExecutionReports,
    FaultKind,
    FaultParamsError,
    RateLimit,
    ReconnectCooldown,
    ReportFaultMode,
    parse_fault,
)
from mock_exchange.market_clock import MarketClock, MarketClockConfig, MarketPhase, phase_at


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_parse_fault_fills_defaults_and_names_bad_fields() -> None:
    fault = parse_fault(FaultKind.CANCEL_FAILURE, {"mode": "hang", "session": "OMS-A"})
    assert fault == CancelFailure(mode=CancelFailureMode.HANG, session="OMS-A")
    with pytest.raises(FaultParamsError, match=r"window_s: .*greater than 0"):
        parse_fault(FaultKind.RATE_LIMIT, {"max_orders": 3, "window_s": 0})
    with pytest.raises(FaultParamsError, match="kind: 'halt' does not match"):
        parse_fault(FaultKind.RATE_LIMIT, {"kind": "halt"})


def test_rate_limit_window_slides_and_ban_expires() -> None:
    clock = FakeClock()
    board = FaultBoard(clock=clock)
    board.arm(RateLimit(max_orders=2, window_s=1.0, ban_s=5.0))
    assert [board.admit_order("A"), board.admit_order("A")] == [None, None]
    assert board.admit_order("A") == "Rate limit exceeded"
    assert board.admit_order("B") is None, "limits are per session"
    clock.now += 4.0
    assert board.admit_order("A") == "Rate limit exceeded: banned for another 1.0 s"
    clock.now += 1.0
    assert board.admit_order("A") is None


def test_rate_limit_without_ban_admits_again_once_the_window_moves() -> None:
    clock = FakeClock()
    board = FaultBoard(clock=clock)
    board.arm(RateLimit(max_orders=1, window_s=1.0))
    assert board.admit_order("A") is None
    clock.now += 0.5
    assert board.admit_order("A") == "Rate limit exceeded"
    clock.now += 0.6
    assert board.admit_order("A") is None


def test_cooldown_counts_from_each_end_with_the_current_params() -> None:
    clock = FakeClock()
    board = FaultBoard(clock=clock)
    board.note_disconnect("A", "", clean=True)
    board.arm(ReconnectCooldown(clean_s=10, unclean_s=30))
    assert board.logon_refusal("A", "") is None
    board.note_disconnect("A", "", clean=False)
    clock.now += 20
    assert board.logon_refusal("B", "") == "reconnect cooldown, 10.0 s remaining"
    assert board.logon_refusal("C", "other-firm") is None
    clock.now += 10
    assert board.logon_refusal("B", "") is None


def test_report_fault_rolls_are_seeded() -> None:
    def rolls(seed: int) -> list[bool]:
        board = FaultBoard(seed=seed)
        board.arm(ExecutionReports(mode=ReportFaultMode.DROP, probability=0.5))
        return [board.report_fault("A") is not None for _ in range(200)]

    assert rolls(1) == rolls(1)
    assert rolls(1) != rolls(2)
    assert 60 < sum(rolls(1)) < 140


def test_listeners_hear_arms_and_heals_but_not_idle_heals() -> None:
    board = FaultBoard()
    heard: list[tuple[FaultKind, bool]] = []
    board.subscribe(lambda kind, fault: heard.append((kind, fault is not None)))
    board.heal(FaultKind.HALT)
    board.arm(RateLimit(max_orders=1, window_s=1))
    board.heal_all()
    assert heard == [(FaultKind.RATE_LIMIT, True), (FaultKind.RATE_LIMIT, False)]


def test_market_clock_phases_follow_exchange_time_across_dst() -> None:
    clock = FakeClock()
    config = MarketClockConfig(start=datetime(2026, 3, 8, 1, 59), rate=60.0)
    market = MarketClock(config, monotonic=clock)
    assert market.now().isoformat() == "2026-03-08T01:59:00-05:00"
    clock.now += 2.0  # two exchange minutes: across the spring-forward gap (a Sunday)
    assert market.now().isoformat() == "2026-03-08T03:01:00-04:00"
    assert market.phase() is MarketPhase.CLOSED
    clock.now += 21 * 60.0  # to Monday 00:01
    assert (market.now().isoformat(), market.phase()) == ("2026-03-09T00:01:00-04:00", MarketPhase.PRE_OPEN)
    clock.now += 570.0  # exchange minutes at rate 60
    assert (market.now().time().isoformat(), market.phase()) == ("09:31:00", MarketPhase.OPEN)
    clock.now += 389.0
    assert (market.now().time().isoformat(), market.phase()) == ("16:00:00", MarketPhase.CLOSED)


@pytest.mark.parametrize(
    ("local", "phase"),
    [
        ("2026-11-20T10:00:00", MarketPhase.OPEN),  # a Friday
        ("2026-11-20T16:00:00", MarketPhase.CLOSED),
        ("2026-11-21T10:00:00", MarketPhase.CLOSED),  # Saturday
        ("2026-11-22T10:00:00", MarketPhase.CLOSED),  # Sunday
        ("2026-11-23T09:29:59", MarketPhase.PRE_OPEN),  # Monday
        ("2026-11-23T09:30:00", MarketPhase.OPEN),
    ],
)
def test_market_is_closed_on_weekends(local: str, phase: MarketPhase) -> None:
    assert phase_at(datetime.fromisoformat(local)) is phase


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"start": "2026-01-01T10:00:00", "timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"start": "2026-01-01T10:00:00+00:00"}, "without a UTC offset"),
        ({"start": "2026-01-01T10:00:00", "rate": 0}, "greater than 0"),
    ],
)
def test_market_clock_config_is_validated(values: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        MarketClockConfig.model_validate(values)
