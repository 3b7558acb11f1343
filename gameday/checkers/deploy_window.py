"""``deploy.in_market_hours``: deploy actions taken while the exchange was not closed (seed 000).

The exchange phase is the harness's own reading of the stack's market clock (recorded in the
run's ``start`` op): exchange-local wall time, weekdays only, pre-open from ``pre_open``, the
session from ``open`` to ``close``. It does not ask the deployer's scheduler, whose guard is
what is under test.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from gameday.checker_specs import DEPLOY_IN_MARKET_HOURS
from gameday.checkers.base import Observation, Specified
from gameday.checkers.deploy_records import (
    DeployActionEvent,
    DeployClock,
    Subject,
    published,
    run_start_field,
)
from gameday.checkers.records import reference
from gameday.history import Op, OpKind

__all__ = ["DEPLOY_ACTIONS", "ExchangeHours", "ExchangePhase", "InMarketHours"]

DEPLOY_ACTIONS = frozenset({"launch", "set-upstreams"})
"""The actions that put a new version in front of the market: starting green, moving traffic."""
SATURDAY = 5


class ExchangePhase(StrEnum):
    PRE_OPEN = "pre-open"
    OPEN = "open"
    CLOSED = "closed"


class ExchangeHours(BaseModel):
    """An exchange's day in its local wall time (US equities by default)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    pre_open: time = time(4, 0)
    open: time = time(9, 30)
    close: time = time(16, 0)

    def phase(self, local: datetime) -> ExchangePhase:
        wall = local.time().replace(tzinfo=None)
        if local.weekday() >= SATURDAY or wall < self.pre_open or wall >= self.close:
            return ExchangePhase.CLOSED
        return ExchangePhase.OPEN if wall >= self.open else ExchangePhase.PRE_OPEN


def _deployer_recorded(ops: Sequence[Op]) -> bool:
    return any(op.kind == OpKind.SUT and "deploy" in op.process.split(".")[:-1] for op in ops)


class InMarketHours(Specified):
    spec = DEPLOY_IN_MARKET_HOURS
    description = "deploy actions (launch, set-upstreams) taken while the exchange was not closed"

    def check(self, ops: Sequence[Op]) -> Observation:
        clock = run_start_field(ops, "clock", DeployClock)
        if clock is None:
            return Observation.absent(self.unit, "the run start op records no market clock")
        if not _deployer_recorded(ops):
            return Observation.absent(self.unit, "no deploy.* event recorded (no deployer ran, or its "
                                                 "subjects were not recorded)")
        hours = run_start_field(ops, "hours", ExchangeHours) or ExchangeHours()
        taken = [event for event in published(ops, Subject.DEPLOY_ACTIONS, DeployActionEvent)
                 if event.action in DEPLOY_ACTIONS and event.ok]
        ref = reference(ops)
        listed: list[dict[str, Any]] = []
        for event in sorted(taken, key=lambda event: event.t_ns):
            local = clock.exchange_time(event.t_ns)
            listed.append({"action": event.action, "batch": event.batch, "exchange_time": local.isoformat(),
                           "phase": hours.phase(local).value, **ref.instant(event.t_ns)})
        during = [entry for entry in listed if entry["phase"] != ExchangePhase.CLOSED]
        return Observation(
            value=len(during), unit=self.unit,
            evidence={"reference": ref.describe(), "tz": clock.tz, "hours": hours.model_dump(mode="json"),
                      "actions": listed},
            note=f"{len(during)} of {len(listed)} deploy action(s) while the market was not closed"
            + (f"; first at {during[0]['exchange_time']} ({during[0]['phase']})" if during else ""),
        )
