"""``deploy.local_start_time``: whether the deploy started inside its declared window, in exchange time.

Seed 000: a window written as 16:00-20:00 New York and read in UTC fires at 11:00 New York, mid-session
(``deploy.in_market_hours`` catches that); and on a day the market is closed, the same misreading
fires at, say, 14:43 New York, which ``deploy.in_market_hours`` rightly calls closed. What grades the
deploy against what was declared is the start itself: the first deploy action (``launch`` or
``set-upstreams``, taken or not) on the scenario's market clock, shown in the window's zone (the
exchange's by default) with zoneinfo, so a DST change moves it like a real clock. It is inside the
window when it falls on one of the window's days (by default the exchange's open days, Monday to
Friday), not on a holiday the window lists, and between its ``start`` and ``end`` wall times.

The window is the run start op's ``schedule`` (the scenario's ``stack.schedule``); the clock its
``clock``. Without either the observation is unknown; a deploy that never acted is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_validator

from gameday.checker_specs import DEPLOY_LOCAL_START_TIME
from gameday.checkers.base import Observation, Specified
from gameday.checkers.deploy_records import (
    DeployActionEvent,
    DeployClock,
    Subject,
    published,
    run_start_field,
)
from gameday.checkers.deploy_window import DEPLOY_ACTIONS, ExchangeHours
from gameday.checkers.records import reference
from gameday.history import Op, OpKind
from gameday.zones import find_zone

__all__ = ["DeployWindow", "LocalStartTime"]

OPEN_DAYS = (0, 1, 2, 3, 4)
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class DeployWindow(BaseModel):
    """A daily deploy window in ``tz`` wall time (``None``: the exchange's zone, the clock's)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    start: time
    end: time
    tz: str | None = None
    days: tuple[int, ...] = OPEN_DAYS
    holidays: tuple[date, ...] = ()

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None and find_zone(name) is None:
            raise ValueError(f"unknown time zone {name!r}")
        return name

    @field_validator("days", mode="before")
    @classmethod
    def _day_numbers(cls, days: Any) -> Any:
        """Accept Monday = 0 numbers or day names (``mon``, ``Monday``)."""
        if not isinstance(days, list | tuple | set | frozenset):
            return days
        return tuple(sorted(_day_number(day) for day in days))

    def misses(self, local: datetime) -> list[str]:
        """Why ``local`` (in the window's zone) is outside the window; empty when it is inside."""
        wall = local.time().replace(tzinfo=None)
        day = local.date()
        if self.start < self.end:
            inside = self.start <= wall < self.end
        else:  # a window across midnight belongs to the day it opened
            inside = wall >= self.start or wall < self.end
            day -= timedelta(days=1 if wall < self.end else 0)
        found = [] if day.weekday() in self.days else [f"not a window day ({_DAY_NAMES[day.weekday()]})"]
        if day in self.holidays:
            found.append("a holiday")
        if not inside:
            found.append(f"outside {self.start.isoformat('minutes')}-{self.end.isoformat('minutes')}")
        return found


def _day_number(day: Any) -> Any:
    if isinstance(day, str):
        name = day.strip().lower()
        match = [index for index, full in enumerate(_DAY_NAMES) if name and full.startswith(name[:3])]
        return match[0] if match else day
    return day


def _deployer_recorded(ops: Sequence[Op]) -> bool:
    """The deployer was heard from: any of its subjects (an idle deployer publishes its schedule)."""
    return any(op.process.endswith("deploy.schedule") or Subject.DEPLOY_PHASES.matches(op.process)
               or Subject.DEPLOY_ACTIONS.matches(op.process) or Subject.DEPLOY_VERDICTS.matches(op.process)
               for op in ops if op.kind == OpKind.SUT)


class LocalStartTime(Specified):
    spec = DEPLOY_LOCAL_START_TIME
    description = ("1 when the first deploy action fell outside the declared deploy window (its days and "
                   "wall times, in the exchange's zone), else 0")

    def check(self, ops: Sequence[Op]) -> Observation:
        clock = run_start_field(ops, "clock", DeployClock)
        if clock is None:
            return Observation.absent(self.unit, "the run start op records no market clock")
        window = run_start_field(ops, "schedule", DeployWindow)
        if window is None:
            return Observation.absent(self.unit, "the run start op records no deploy window (stack.schedule)")
        if not _deployer_recorded(ops):
            return Observation.absent(self.unit, "no deploy.phases or deploy.actions event recorded")
        ref = reference(ops)
        zone_name = window.tz or clock.tz
        evidence: dict[str, Any] = {"reference": ref.describe(), "window": window.model_dump(mode="json"),
                                    "window_tz": zone_name, "clock_tz": clock.tz}
        acted = sorted((event for event in published(ops, Subject.DEPLOY_ACTIONS, DeployActionEvent)
                        if event.action in DEPLOY_ACTIONS), key=lambda event: event.t_ns)
        if not acted:
            return Observation(value=0, unit=self.unit, evidence=evidence, note="no deploy action was taken")
        first = acted[0]
        exchange = clock.exchange_time(first.t_ns)
        local = exchange.astimezone(ZoneInfo(zone_name))
        misses = window.misses(local)
        evidence.update(first_action={"action": first.action, "batch": first.batch, "ok": first.ok,
                                      **ref.instant(first.t_ns)},
                        exchange_time=exchange.isoformat(), window_time=local.isoformat(),
                        market_phase=ExchangeHours().phase(exchange).value, outside=misses)
        note = (f"deploy started {local.isoformat()} ({_DAY_NAMES[local.weekday()]}): "
                + ("; ".join(misses) if misses else "inside the window"))
        return Observation(value=1 if misses else 0, unit=self.unit, evidence=evidence, note=note)
