"""Deploy windows in the exchange's local time, guarded by the market clock and traded volume.

A deploy fires once per day inside its window (default 16:00-20:00 America/New_York, after the
close). Before acting it checks that the market is closed and that recent traded volume is at
or below a threshold. Defect ``no-market-hours-guard`` reproduces seed 003's incident: the
window is read in UTC (a cron on a UTC host) and neither guard runs, so "16:00" fires at
11:00 New York in winter, 12:00 in summer — mid-session.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, date, datetime, time, tzinfo
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trading_stack.defects import Defect
from trading_stack.deploy.market_clock import (
    DEFAULT_EXCHANGE_TZ,
    WEEKDAYS,
    MarketClock,
    MarketPhase,
    Weekday,
    zone,
)

__all__ = ["DeploySchedule", "DeployScheduler", "GateReason", "ScheduleDecision", "VolumeMeter"]

NS_PER_S = 1_000_000_000


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateReason(StrEnum):
    DUE = "due"
    OUTSIDE_WINDOW = "outside-window"
    ALREADY_FIRED = "already-fired"
    MARKET_NOT_CLOSED = "market-not-closed"
    VOLUME_ABOVE_THRESHOLD = "volume-above-threshold"


class DeploySchedule(_Frozen):
    """A daily deploy window written in ``tz`` wall time (the exchange's zone)."""

    start: time = time(16, 0)
    end: time = time(20, 0)
    tz: str = DEFAULT_EXCHANGE_TZ
    days: frozenset[Weekday] = WEEKDAYS
    max_volume: int = Field(default=0, ge=0, description="lots traded in the lookback, at most")
    volume_lookback_s: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    defects: tuple[Defect, ...] = ()

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone(name)
        return name

    @model_validator(mode="after")
    def _window(self) -> DeploySchedule:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("expected window times without a zone (the zone is tz)")
        if not self.start < self.end:
            raise ValueError(f"expected start < end, got {self.start} >= {self.end}")
        return self


class ScheduleDecision(_Frozen):
    """Whether to deploy at ``t_ns``, why, and what the scheduler saw."""

    t_ns: int
    act: bool
    reason: GateReason
    exchange_time: datetime
    schedule_time: datetime
    phase: MarketPhase
    volume: int
    guarded: bool


class VolumeMeter:
    """Lots traded in the last ``lookback_ns`` (bounded: old trades are dropped as time passes)."""

    def __init__(self, lookback_ns: int) -> None:
        if lookback_ns <= 0:
            raise ValueError(f"expected a positive lookback, got {lookback_ns} ns")
        self.lookback_ns = lookback_ns
        self._trades: deque[tuple[int, int]] = deque()
        self._total = 0

    def record(self, t_ns: int, lots: int) -> None:
        if lots < 0:
            raise ValueError(f"expected traded lots >= 0, got {lots}")
        self._trades.append((t_ns, lots))
        self._total += lots

    def volume(self, now_ns: int) -> int:
        horizon = now_ns - self.lookback_ns
        while self._trades and self._trades[0][0] <= horizon:
            self._total -= self._trades.popleft()[1]
        return self._total


class DeployScheduler:
    """Decides, at a time passed in, whether the scheduled deploy fires (once per window)."""

    def __init__(self, schedule: DeploySchedule, clock: MarketClock) -> None:
        self.schedule = schedule
        self.clock = clock
        self._fired_on: date | None = None

    @property
    def guarded(self) -> bool:
        return Defect.NO_MARKET_HOURS_GUARD not in self.schedule.defects

    @property
    def schedule_zone(self) -> tzinfo:
        return zone(self.schedule.tz) if self.guarded else UTC

    def in_window(self, wall: datetime) -> bool:
        day = Weekday(wall.weekday())
        return day in self.schedule.days and self.schedule.start <= wall.time() < self.schedule.end

    def guard(self, now_ns: int, volume: int) -> GateReason | None:
        """Why a deploy must not act now (market not closed, volume too high), or None."""
        if not self.guarded:
            return None
        if self.clock.phase(now_ns) is not MarketPhase.CLOSED:
            return GateReason.MARKET_NOT_CLOSED
        if volume > self.schedule.max_volume:
            return GateReason.VOLUME_ABOVE_THRESHOLD
        return None

    def decide(self, now_ns: int, volume: int) -> ScheduleDecision:
        exchange_time = self.clock.now(now_ns)
        wall = exchange_time.astimezone(self.schedule_zone)
        if not self.in_window(wall):
            reason: GateReason | None = GateReason.OUTSIDE_WINDOW
        elif self._fired_on == wall.date():
            reason = GateReason.ALREADY_FIRED
        else:
            reason = self.guard(now_ns, volume)
        if reason is None:
            self._fired_on = wall.date()
        return ScheduleDecision(
            t_ns=now_ns, act=reason is None, reason=reason or GateReason.DUE,
            exchange_time=exchange_time, schedule_time=wall,
            phase=self.clock.hours.phase_at(exchange_time), volume=volume, guarded=self.guarded,
        )
