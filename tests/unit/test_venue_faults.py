"""Fault models, the fault board's state (rate windows, bans, cooldowns) and the market clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import (
    CancelFailure,
    CancelFailureMode,
    CountedRequest,
    ExecutionReports,
    FaultKind,
    FaultParamsError,
    HeldCancelFate,
    RateLimit,
    ReconnectCooldown,
    ReportFaultMode,
    ReportSelection,
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
    assert [board.admit("A"), board.admit("A")] == [None, None]
    assert board.admit("A") == "Rate limit exceeded"
    assert board.admit("B") is None, "limits are per session"
    clock.now += 4.0
    assert board.admit("A") == "Rate limit exceeded: banned for another 1.0 s"
    clock.now += 1.0
    assert board.admit("A") is None


def test_rate_limit_without_ban_admits_again_once_the_window_moves() -> None:
    clock = FakeClock()
    board = FaultBoard(clock=clock)
    board.arm(RateLimit(max_orders=1, window_s=1.0))
    assert board.admit("A") is None
    clock.now += 0.5
    assert board.admit("A") == "Rate limit exceeded"
    clock.now += 0.6
    assert board.admit("A") is None


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
        return [board.report_fault("A", fill=False) is not None for _ in range(200)]

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


def test_rate_limit_counts_only_the_requests_it_names_in_one_window() -> None:
    clock = FakeClock()
    board = FaultBoard(clock=clock)
    board.arm(RateLimit(max_orders=2, window_s=1.0, counts=(CountedRequest.CANCEL, CountedRequest.REPLACE)))
    assert [board.admit("A", CountedRequest.NEW) for _ in range(5)] == [None] * 5, "new orders not counted"
    assert board.admit("A", CountedRequest.CANCEL) is None
    assert board.admit("A", CountedRequest.REPLACE) is None
    assert board.admit("A", CountedRequest.CANCEL) == "Rate limit exceeded"
    assert board.admit("A", CountedRequest.NEW) is None


def test_rate_limit_counts_new_orders_only_by_default() -> None:
    board = FaultBoard(clock=FakeClock())
    stored = board.arm(parse_fault(FaultKind.RATE_LIMIT, {"max_orders": 1, "window_s": 1}))
    assert isinstance(stored, RateLimit)
    assert stored.counts == (CountedRequest.NEW,)
    assert [board.admit("A", CountedRequest.CANCEL) for _ in range(3)] == [None] * 3
    assert [board.admit("A"), board.admit("A")] == [None, "Rate limit exceeded"]


@pytest.mark.parametrize(("only", "selected"), [(ReportSelection.FILLS, [False, True]),
                                                (ReportSelection.ALL, [True, True])])
def test_report_fault_selects_fills_only_when_asked(only: ReportSelection, selected: list[bool]) -> None:
    board = FaultBoard()
    board.arm(ExecutionReports(mode=ReportFaultMode.DROP, only=only))
    assert [board.report_fault("A", fill=fill) is not None for fill in (False, True)] == selected


def test_reports_a_fills_only_fault_passes_spend_no_roll() -> None:
    def fill_rolls(acks_between: int) -> list[bool]:
        board = FaultBoard(seed=3)
        board.arm(ExecutionReports(mode=ReportFaultMode.DUPLICATE, probability=0.5,
                                   only=ReportSelection.FILLS))
        rolls = []
        for _ in range(50):
            for _ in range(acks_between):
                assert board.report_fault("A", fill=False) is None
            rolls.append(board.report_fault("A", fill=True) is not None)
        return rolls

    assert fill_rolls(0) == fill_rolls(3)
    assert 10 < sum(fill_rolls(0)) < 40


def test_a_hang_releases_held_cancels_on_heal_unless_told_to_drop_them() -> None:
    hanging = parse_fault(FaultKind.CANCEL_FAILURE, {"mode": "hang"})
    assert hanging.model_dump(mode="json")["on_heal"] == "release"
    dropping = parse_fault(FaultKind.CANCEL_FAILURE, {"mode": "hang", "on_heal": "drop"})
    assert isinstance(dropping, CancelFailure)
    assert dropping.on_heal is HeldCancelFate.DROP
    assert dropping.drops_held_cancels
    assert parse_fault(FaultKind.CANCEL_FAILURE, {"mode": "drop"}).model_dump(mode="json")["on_heal"] is None
    with pytest.raises(FaultParamsError, match=r"on_heal: .*applies to mode hang only; mode reject"):
        parse_fault(FaultKind.CANCEL_FAILURE, {"mode": "reject", "on_heal": "release"})
