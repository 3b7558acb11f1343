"""Exchange hours and the simulated market clock, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from trading_stack.deploy.market_clock import MarketClock, MarketPhase, TradingHours, localize

NY = ZoneInfo("America/New_York")
S = 1_000_000_000
HOURS = TradingHours()


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NY)


@pytest.mark.parametrize(
    ("instant", "phase"),
    [
        (ny(2026, 11, 20, 10, 59, 30), MarketPhase.OPEN),
        (ny(2026, 11, 20, 9, 30), MarketPhase.OPEN),
        (ny(2026, 11, 20, 9, 29, 59), MarketPhase.PRE_OPEN),
        (ny(2026, 11, 20, 4, 0), MarketPhase.PRE_OPEN),
        (ny(2026, 11, 20, 3, 59, 59), MarketPhase.CLOSED),
        (ny(2026, 11, 20, 15, 59, 59), MarketPhase.OPEN),
        (ny(2026, 11, 20, 16, 0), MarketPhase.CLOSED),
        (ny(2026, 11, 21, 12, 0), MarketPhase.CLOSED),  # Saturday
        (ny(2026, 11, 22, 12, 0), MarketPhase.CLOSED),  # Sunday
        (datetime(2026, 11, 20, 16, 0, tzinfo=UTC), MarketPhase.OPEN),  # 11:00 in New York
        (datetime(2026, 7, 20, 16, 0, tzinfo=UTC), MarketPhase.OPEN),  # 12:00 in New York (EDT)
        (datetime(2026, 11, 20, 21, 0, tzinfo=UTC), MarketPhase.CLOSED),  # 16:00 in New York
    ],
)
def test_phase_in_exchange_local_time(instant: datetime, phase: MarketPhase) -> None:
    assert HOURS.phase_at(instant) is phase


def test_a_holiday_is_closed() -> None:
    hours = TradingHours(holidays=frozenset({date(2026, 11, 26)}))

    assert hours.phase_at(ny(2026, 11, 26, 11, 0)) is MarketPhase.CLOSED
    assert hours.phase_at(ny(2026, 11, 27, 11, 0)) is MarketPhase.OPEN


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        HOURS.phase_at(datetime(2026, 11, 20, 11, 0))


def test_an_unknown_zone_is_a_clear_validation_error() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'America/New_Yrok'"):
        TradingHours(tz="America/New_Yrok")


def test_hours_out_of_order_are_refused() -> None:
    with pytest.raises(ValidationError, match="pre_open <= open < close"):
        TradingHours(open=time(16, 0), close=time(9, 30))


def test_a_wall_time_skipped_by_spring_forward_is_refused() -> None:
    with pytest.raises(ValueError, match="does not exist in America/New_York"):
        localize(datetime(2026, 3, 8, 2, 30), NY)


def test_a_repeated_wall_time_is_its_first_occurrence_unless_fold_says_otherwise() -> None:
    first = localize(datetime(2026, 11, 1, 1, 30), NY)
    second = localize(datetime(2026, 11, 1, 1, 30, fold=1), NY)

    assert (first.utcoffset(), second.utcoffset()) == (timedelta(hours=-4), timedelta(hours=-5))
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)


def test_the_clock_runs_from_its_local_start() -> None:
    clock = MarketClock.starting_at(datetime(2026, 11, 20, 10, 59, 30), anchor_ns=7 * S)

    assert clock.now(7 * S) == ny(2026, 11, 20, 10, 59, 30)
    assert clock.now(37 * S).time() == time(11, 0)
    assert clock.phase(37 * S) is MarketPhase.OPEN


def test_the_clock_rate_scales_elapsed_time() -> None:
    clock = MarketClock.starting_at(datetime(2026, 11, 20, 15, 59), anchor_ns=0, rate=60.0)

    assert clock.now(1 * S).time() == time(16, 0)
    assert clock.phase(1 * S) is MarketPhase.CLOSED


def test_the_clock_crosses_spring_forward_in_real_time() -> None:
    clock = MarketClock.starting_at(datetime(2026, 3, 8, 1, 59), anchor_ns=0)

    after = clock.now(60 * S)

    assert (after.hour, after.minute, after.utcoffset()) == (3, 0, timedelta(hours=-4))


def test_an_aware_start_is_kept_as_the_same_instant() -> None:
    clock = MarketClock.starting_at(datetime(2026, 11, 20, 15, 59, 30, tzinfo=UTC), anchor_ns=0)

    assert clock.now(0) == ny(2026, 11, 20, 10, 59, 30)


def test_a_clock_built_without_a_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="aware start"):
        MarketClock(start=datetime(2026, 11, 20, 10, 0), anchor_ns=0)


instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.just(UTC))


@given(instants, st.integers(0, 400 * 24 * 3600))
def test_elapsed_exchange_time_is_elapsed_real_time_across_dst(start: datetime, seconds: int) -> None:
    clock = MarketClock(start=start, anchor_ns=0)

    later = clock.now(seconds * S)

    assert later.tzinfo == NY
    assert later.astimezone(UTC) - clock.now(0).astimezone(UTC) == timedelta(seconds=seconds)


@given(instants)
def test_open_means_a_trading_day_between_09_30_and_16_00_new_york(instant: datetime) -> None:
    local = instant.astimezone(NY)
    expected = local.weekday() < 5 and time(9, 30) <= local.time().replace(tzinfo=None) < time(16, 0)

    assert (HOURS.phase_at(instant) is MarketPhase.OPEN) == expected
