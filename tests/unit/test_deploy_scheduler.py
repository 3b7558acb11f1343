"""Deploy windows in exchange time; seed 000's UTC cron reproduced by the no-market-hours-guard defect."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from trading_stack.config import Defect
from trading_stack.deploy.market_clock import MarketClock, MarketPhase
from trading_stack.deploy.scheduler import DeploySchedule, DeployScheduler, GateReason, VolumeMeter

NY = ZoneInfo("America/New_York")
S = 1_000_000_000
GUARD_OFF = (Defect.NO_MARKET_HOURS_GUARD,)


def scheduler(local: datetime, *, defects: tuple[Defect, ...] = (), **schedule: object) -> DeployScheduler:
    clock = MarketClock.starting_at(local, anchor_ns=0)
    return DeployScheduler(DeploySchedule.model_validate({"defects": defects, **schedule}), clock)


def first_act(sched: DeployScheduler, seconds: int, volume: int = 0) -> int | None:
    for second in range(seconds):
        if sched.decide(second * S, volume).act:
            return second
    return None


def test_cron_timezone_deploy_the_correct_scheduler_does_not_fire_in_the_session() -> None:
    sched = scheduler(datetime(2026, 11, 20, 10, 59, 30))

    assert first_act(sched, 120) is None
    assert sched.decide(30 * S, 0).reason is GateReason.OUTSIDE_WINDOW


def test_cron_timezone_deploy_the_defect_fires_at_11_00_new_york_mid_session() -> None:
    sched = scheduler(datetime(2026, 11, 20, 10, 59, 30), defects=GUARD_OFF)

    assert first_act(sched, 120) == 30
    decision = sched.decide(30 * S, 10_000)
    assert decision.reason is GateReason.ALREADY_FIRED
    assert decision.exchange_time.time() == time(11, 0)
    assert decision.schedule_time.utcoffset() == timedelta(0)
    assert (decision.phase, decision.guarded) == (MarketPhase.OPEN, False)


def test_the_correct_scheduler_fires_at_the_close_once_per_day() -> None:
    sched = scheduler(datetime(2026, 11, 20, 15, 59, 58))

    decisions = [sched.decide(t * S, 0) for t in range(5)]

    assert [d.reason for d in decisions] == [
        GateReason.OUTSIDE_WINDOW, GateReason.OUTSIDE_WINDOW,
        GateReason.DUE, GateReason.ALREADY_FIRED, GateReason.ALREADY_FIRED,
    ]
    assert decisions[2].exchange_time == datetime(2026, 11, 20, 16, 0, tzinfo=NY)
    assert decisions[2].phase is MarketPhase.CLOSED


def test_it_waits_for_volume_to_drop_below_the_threshold() -> None:
    sched = scheduler(datetime(2026, 11, 20, 16, 0), max_volume=100)

    assert sched.decide(0, 101).reason is GateReason.VOLUME_ABOVE_THRESHOLD
    assert sched.decide(S, 100).act


def test_a_window_inside_market_hours_is_refused_by_the_market_guard() -> None:
    sched = scheduler(datetime(2026, 11, 20, 11, 0), start=time(11, 0), end=time(12, 0))

    assert sched.decide(0, 0).reason is GateReason.MARKET_NOT_CLOSED
    assert sched.guard(0, 0) is GateReason.MARKET_NOT_CLOSED


def test_the_defect_skips_the_volume_guard_too() -> None:
    sched = scheduler(datetime(2026, 11, 20, 11, 0), defects=GUARD_OFF, max_volume=0)

    assert sched.guard(0, 10_000) is None
    assert sched.decide(0, 10_000).act


def test_no_deploy_on_a_day_the_schedule_leaves_out() -> None:
    sched = scheduler(datetime(2026, 11, 21, 16, 0))  # Saturday

    assert sched.decide(0, 0).reason is GateReason.OUTSIDE_WINDOW


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValidationError, match="start < end"):
        DeploySchedule(start=time(20, 0), end=time(16, 0))


def test_an_unknown_schedule_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        DeploySchedule(tz="EST5EDT/Nowhere")


def test_volume_counts_only_the_lookback() -> None:
    meter = VolumeMeter(lookback_ns=10 * S)
    meter.record(0, 5)
    meter.record(4 * S, 7)

    assert meter.volume(9 * S) == 12
    assert meter.volume(10 * S) == 7
    assert meter.volume(14 * S) == 0


def test_negative_volume_is_refused() -> None:
    with pytest.raises(ValueError, match="lots >= 0"):
        VolumeMeter(lookback_ns=S).record(0, -1)


# -- across DST ------------------------------------------------------------------------
days = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31),
                        timezones=st.just(UTC))


@given(instants)
def test_the_guarded_scheduler_never_acts_while_the_market_is_not_closed(instant: datetime) -> None:
    for window in ((time(0, 0), time(23, 59)), (time(16, 0), time(20, 0))):
        clock = MarketClock(start=instant, anchor_ns=0)
        sched = DeployScheduler(
            DeploySchedule(start=window[0], end=window[1], days=frozenset(range(7)), max_volume=10**9), clock
        )

        decision = sched.decide(0, 0)

        assert not (decision.act and decision.phase is not MarketPhase.CLOSED)


@given(days.filter(lambda d: d.weekday() < 5))
def test_the_window_opens_at_16_00_new_york_in_winter_and_summer(day: date) -> None:
    close = datetime.combine(day, time(16, 0), tzinfo=NY)
    sched = scheduler(close.replace(tzinfo=None) - timedelta(seconds=1))

    assert sched.decide(0, 0).reason is GateReason.OUTSIDE_WINDOW
    decision = sched.decide(S, 0)

    assert decision.act
    assert decision.exchange_time.astimezone(UTC).hour == (20 if close.dst() else 21)


@given(days.filter(lambda d: d.weekday() < 5))
def test_the_utc_cron_defect_fires_mid_session_every_weekday(day: date) -> None:
    utc_16 = datetime.combine(day, time(16, 0), tzinfo=UTC)
    clock = MarketClock(start=utc_16, anchor_ns=0)
    sched = DeployScheduler(DeploySchedule(defects=GUARD_OFF), clock)

    decision = sched.decide(0, 0)

    assert decision.act
    assert decision.phase is MarketPhase.OPEN
    assert decision.exchange_time.time() in (time(11, 0), time(12, 0))
