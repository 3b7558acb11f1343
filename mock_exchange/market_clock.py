"""The venue's market clock: exchange-local time in a real timezone, and the market phase.

The clock starts at ``start`` (exchange-local wall time) when the venue starts and runs at
``rate`` exchange seconds per real second. Phases by exchange-local time: on weekdays
pre-open before 09:30, open 09:30-16:00, closed from 16:00; closed all Saturday and Sunday.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as time_of_day
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

OPEN_AT = time_of_day(9, 30)
CLOSE_AT = time_of_day(16, 0)
SATURDAY = 5  # datetime.weekday(): Saturday and Sunday are 5 and 6


class MarketPhase(StrEnum):
    PRE_OPEN = "pre_open"
    OPEN = "open"
    CLOSED = "closed"


class MarketClockConfig(BaseModel):
    """``VenueConfig.market_clock``; ``None`` there means the market is always open."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "America/New_York"
    start: datetime = Field(description="exchange-local wall time the clock starts at (no offset)")
    rate: float = Field(default=1.0, gt=0, description="exchange seconds per real second")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @field_validator("start")
    @classmethod
    def _naive_start(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("start is exchange-local wall time: give it without a UTC offset")
        return value


def phase_at(local: datetime) -> MarketPhase:
    """The phase at an exchange-local time."""
    if local.weekday() >= SATURDAY:
        return MarketPhase.CLOSED
    now = local.time()
    if now < OPEN_AT:
        return MarketPhase.PRE_OPEN
    if now < CLOSE_AT:
        return MarketPhase.OPEN
    return MarketPhase.CLOSED


class MarketClock:
    """Exchange-local time, started at construction from ``config.start``."""

    def __init__(self, config: MarketClockConfig, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.timezone = ZoneInfo(config.timezone)
        self._start = config.start.replace(tzinfo=self.timezone)
        self._rate = config.rate
        self._monotonic = monotonic
        self._started_at = monotonic()

    def now(self) -> datetime:
        elapsed = (self._monotonic() - self._started_at) * self._rate
        # wall-clock arithmetic in UTC, so a DST change moves the local time like a real clock
        return (self._start.astimezone(ZoneInfo("UTC")) + timedelta(seconds=elapsed)).astimezone(
            self.timezone
        )

    def phase(self) -> MarketPhase:
        return phase_at(self.now())

    def view(self) -> dict[str, str]:
        local = self.now()
        return {
            "phase": phase_at(local).value,
            "local_time": local.isoformat(),
            "timezone": str(self.timezone),
        }


def refusal_text(phase: MarketPhase) -> str | None:
    """Why a new order is refused in ``phase``, or ``None`` when the market is open."""
    if phase is MarketPhase.PRE_OPEN:
        return "Market is not open yet (pre-open)"
    if phase is MarketPhase.CLOSED:
        return "Market is closed"
    return None
