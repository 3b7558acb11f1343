"""An exchange's trading hours and a simulated market clock (pure: time is passed in).

Every instant is an aware datetime; arithmetic is done in UTC and only then shown in the
exchange's zone, because adding a timedelta to an aware local datetime in Python moves the
wall clock, not real time, across a DST change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_EXCHANGE_TZ",
    "WEEKDAYS",
    "MarketClock",
    "MarketPhase",
    "TradingHours",
    "Weekday",
    "localize",
    "zone",
]

DEFAULT_EXCHANGE_TZ = "America/New_York"
NS_PER_S = 1_000_000_000


class MarketPhase(StrEnum):
    PRE_OPEN = "pre-open"
    OPEN = "open"
    CLOSED = "closed"


class Weekday(IntEnum):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


WEEKDAYS = frozenset(Weekday) - {Weekday.SATURDAY, Weekday.SUNDAY}


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; a clear ``ValueError`` for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; expected an IANA name such as 'America/New_York'"
        ) from None


def localize(local: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in ``tz`` as an aware instant.

    An aware ``local`` is converted. A naive one is read as wall time in ``tz``: a time the DST
    change skips is refused; a repeated one is its first occurrence unless ``fold=1``.
    """
    if local.tzinfo is not None:
        return local.astimezone(tz)
    aware = local.replace(tzinfo=tz)
    if aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local:
        raise ValueError(f"{local.isoformat()} does not exist in {tz.key} (skipped by a DST change)")
    return aware


class TradingHours(BaseModel):
    """When an exchange trades, in its local time: pre-open, continuous session, closed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tz: str = DEFAULT_EXCHANGE_TZ
    pre_open: time = time(4, 0)
    open: time = time(9, 30)
    close: time = time(16, 0)
    trading_days: frozenset[Weekday] = WEEKDAYS
    holidays: frozenset[date] = frozenset()

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        zone(name)
        return name

    @field_validator("pre_open", "open", "close")
    @classmethod
    def _wall_time(cls, wall: time) -> time:
        if wall.tzinfo is not None:
            raise ValueError("expected a wall-clock time without a zone (the zone is tz)")
        return wall

    @model_validator(mode="after")
    def _ordered(self) -> TradingHours:
        if not self.pre_open <= self.open < self.close:
            got = f"{self.pre_open}, {self.open}, {self.close}"
            raise ValueError(f"expected pre_open <= open < close, got {got}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.tz)

    def is_trading_day(self, day: date) -> bool:
        return Weekday(day.weekday()) in self.trading_days and day not in self.holidays

    def phase_at(self, instant: datetime) -> MarketPhase:
        if instant.tzinfo is None:
            raise ValueError("expected an aware datetime (a naive one has no instant)")
        local = instant.astimezone(self.zone)
        if not self.is_trading_day(local.date()):
            return MarketPhase.CLOSED
        wall = local.time().replace(tzinfo=None)
        if self.open <= wall < self.close:
            return MarketPhase.OPEN
        if self.pre_open <= wall < self.open:
            return MarketPhase.PRE_OPEN
        return MarketPhase.CLOSED

    def close_on(self, day: date) -> datetime:
        """The instant of the close on ``day`` (exchange-local date)."""
        return localize(datetime.combine(day, self.close), self.zone)


class MarketClock(BaseModel):
    """Simulated exchange time: ``start`` at monotonic ``anchor_ns``, running ``rate`` times real time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: datetime
    anchor_ns: int = Field(ge=0)
    rate: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    hours: TradingHours = TradingHours()

    @field_validator("start")
    @classmethod
    def _aware(cls, start: datetime) -> datetime:
        if start.tzinfo is None:
            raise ValueError("expected an aware start; build a local one with MarketClock.starting_at")
        return start.astimezone(UTC)

    @classmethod
    def starting_at(
        cls, local: datetime, anchor_ns: int, rate: float = 1.0, hours: TradingHours | None = None
    ) -> MarketClock:
        """A clock whose exchange-local wall time is ``local`` (naive = exchange time) at ``anchor_ns``."""
        hours = hours or TradingHours()
        return cls(start=localize(local, hours.zone), anchor_ns=anchor_ns, rate=rate, hours=hours)

    def now(self, mono_ns: int) -> datetime:
        """The exchange-local time at monotonic ``mono_ns``."""
        elapsed = (mono_ns - self.anchor_ns) * self.rate / NS_PER_S
        return (self.start + timedelta(seconds=elapsed)).astimezone(self.hours.zone)

    def phase(self, mono_ns: int) -> MarketPhase:
        return self.hours.phase_at(self.now(mono_ns))
