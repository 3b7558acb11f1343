"""Typed views of what the deployment game-day checkers read (docs/deploy.md §2-§6).

The deployer (``deploy.phases``, ``deploy.verdicts``, ``deploy.actions``), the front door
(``frontdoor.outcomes``) and the OMS instances (``oms.roles`` with ``version``, ``oms.positions``,
``oms.outputs``, ``oms.shadow.outputs``) are other processes, so these are tolerant readers like
:mod:`gameday.checkers.records`. The stack's market clock and breaker limits come from the run's
``start`` op.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gameday.checkers.base import Observation, Unit
from gameday.checkers.records import SutEvent, parse, parse_value, seconds
from gameday.history import Op, OpKind, OpType
from gameday.zones import find_zone

__all__ = [
    "BreakerLimits",
    "DeployActionEvent",
    "DeployClock",
    "Milestone",
    "OutputEvent",
    "PhaseEvent",
    "PositionsEvent",
    "RoleEvent",
    "Subject",
    "VerdictEvent",
    "VerifierVerdict",
    "VersionSeen",
    "elapsed",
    "first_milestone",
    "first_trigger",
    "phases",
    "published",
    "run_start_field",
    "subject_recorded",
    "versions_seen",
]

NS_PER_S = 1_000_000_000


class Subject(StrEnum):
    """The subjects these checkers read; a stack may put a prefix of its own in front."""

    DEPLOY_PHASES = "deploy.phases"
    DEPLOY_VERDICTS = "deploy.verdicts"
    DEPLOY_ACTIONS = "deploy.actions"
    OMS_ROLES = "oms.roles"
    OMS_POSITIONS = "oms.positions"
    OMS_OUTPUTS = "oms.outputs"
    SHADOW_OUTPUTS = "oms.shadow.outputs"

    def matches(self, subject: str) -> bool:
        return subject == self.value or subject.endswith("." + self.value)


class Milestone(StrEnum):
    """The deploy timeline reasons the checkers single out; a deployer emits others too."""

    CUTOVER_STARTED = "cutover-started"
    SPLIT_STARTED = "split-started"
    CUTOVER_DONE = "cutover-done"
    REJECTS_EXCEEDED = "rejects-exceeded"
    PNL_BREACHED = "pnl-breached"
    SLIPPAGE_EXCEEDED = "slippage-exceeded"
    LATENCY_EXCEEDED = "latency-exceeded"
    ROLLBACK_DONE = "rollback-done"
    VERIFIER_DIVERGED = "verifier-diverged"


class VerifierVerdict(StrEnum):
    CLEAN = "clean"
    DIVERGED = "diverged"
    STALE = "stale"
    INSUFFICIENT = "insufficient"


class _Recorded(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PhaseEvent(SutEvent):
    """One entry of the deploy timeline (``deploy.phases``)."""

    phase: str
    previous: str | None = None
    reason: str
    version: str | None = None
    blockers: tuple[str, ...] = ()
    verdict: str | None = None


class VerdictEvent(SutEvent):
    """The verifier's verdict at ``t_ns`` (``deploy.verdicts``)."""

    verdict: str
    lag_ns: int | None = None
    compared: int | None = None


class DeployActionEvent(SutEvent):
    """One action the deployer carried out (``deploy.actions``); ``action`` is its kind."""

    batch: int | None = None
    action: str
    ok: bool
    error: str | None = None

    @field_validator("action", mode="before")
    @classmethod
    def _kind_of_a_whole_action(cls, value: Any) -> Any:
        """Accept the whole action (``{"kind": "launch", ...}``) as well as its kind."""
        if isinstance(value, dict) and "kind" in value:
            return value["kind"]
        return value


class RoleEvent(SutEvent):
    """A role change of an instance (``oms.roles``); deploy stacks add the build's ``version``."""

    instance: str
    role: str
    version: str | None = None


class PositionsEvent(SutEvent):
    instance: str
    positions: dict[str, int]


class OutputEvent(_Recorded):
    """What one instance computed for one fill (``oms.outputs`` / ``oms.shadow.outputs``)."""

    instance: str | None = None
    event_id: str = Field(min_length=1)
    processed_ns: int
    symbol: str
    position: int
    avg_price: float
    realized_pnl: float
    order_status: str | None = None
    cum_qty: int | None = None


class DeployClock(_Recorded):
    """The stack's market clock: exchange wall time ``start`` in ``tz`` at monotonic ``anchor_ns``."""

    start: datetime
    tz: str
    rate: float = Field(default=1.0, gt=0)
    anchor_ns: int

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        if find_zone(name) is None:
            raise ValueError(f"unknown time zone {name!r}")
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def exchange_time(self, t_ns: int) -> datetime:
        """The exchange-local time at monotonic ``t_ns`` (arithmetic in UTC, shown in ``tz``)."""
        start = self.start if self.start.tzinfo is not None else self.start.replace(tzinfo=self.zone)
        elapsed = timedelta(seconds=(t_ns - self.anchor_ns) * self.rate / NS_PER_S)
        return (start.astimezone(UTC) + elapsed).astimezone(self.zone)


class BreakerLimits(_Recorded):
    """The OMS's circuit-breaker limits, as the stack configured them."""

    max_loss: float | None = Field(default=None, gt=0)
    max_drawdown: float | None = Field(default=None, gt=0)

    def breached(self, pnl: float, peak: float) -> bool:
        if self.max_loss is not None and pnl <= -self.max_loss:
            return True
        return self.max_drawdown is not None and peak - pnl >= self.max_drawdown


_Model = TypeVar("_Model", bound=BaseModel)


def subject_recorded(ops: Iterable[Op], subject: Subject) -> list[Op]:
    return [op for op in ops
            if op.kind == OpKind.SUT and op.type == OpType.INFO and subject.matches(op.process)]


def published(ops: Iterable[Op], subject: Subject, model: type[_Model]) -> list[_Model]:
    """Every message recorded on ``subject`` as ``model``, in history order."""
    return [parse(model, op) for op in subject_recorded(ops, subject)]


@dataclass(frozen=True)
class VersionSeen:
    instance: str
    t_ns: int
    version: str


def versions_seen(ops: Sequence[Op]) -> list[VersionSeen]:
    """Every time an instance said which build it runs: in ``oms.roles``, or to the health probe."""
    seen = [VersionSeen(event.instance, event.t_ns, event.version)
            for event in published(ops, Subject.OMS_ROLES, RoleEvent) if event.version is not None]
    for op in ops:
        if op.kind == OpKind.PROBE and op.f == "health" and op.type == OpType.OK:
            instances = op.value.get("instances")
            for instance, sample in (instances.items() if isinstance(instances, dict) else ()):
                if isinstance(sample, dict) and isinstance(sample.get("version"), str):
                    seen.append(VersionSeen(instance, op.t_ns, sample["version"]))
    return seen


def phases(ops: Iterable[Op]) -> list[PhaseEvent]:
    return sorted(published(ops, Subject.DEPLOY_PHASES, PhaseEvent), key=lambda event: event.t_ns)


def first_milestone(events: Sequence[PhaseEvent], milestone: Milestone, *, after_ns: int | None = None,
                    ) -> PhaseEvent | None:
    return next((event for event in events if event.reason == milestone.value
                 and (after_ns is None or event.t_ns >= after_ns)), None)


AUTO_ROLLBACK_TRIGGERS = (Milestone.REJECTS_EXCEEDED, Milestone.PNL_BREACHED, Milestone.SLIPPAGE_EXCEEDED,
                          Milestone.LATENCY_EXCEEDED)
"""The reasons a deployer gives for rolling back on its own."""


def first_trigger(events: Sequence[PhaseEvent], *, after_ns: int) -> PhaseEvent | None:
    """The first automatic rollback trigger at or after ``after_ns``."""
    reasons = {milestone.value for milestone in AUTO_ROLLBACK_TRIGGERS}
    return next((event for event in events if event.reason in reasons and event.t_ns >= after_ns), None)


def run_start_field(ops: Sequence[Op], key: str, model: type[_Model]) -> _Model | None:
    """``key`` of the run's ``start`` op as ``model``; ``None`` when the run did not record it."""
    start = next((op for op in ops if op.kind == OpKind.RUN and op.f == "start"), None)
    if start is None or start.value.get(key) is None:
        return None
    return parse_value(model, start.value[key], f"the run start op's {key!r}")


def elapsed(start_ns: int, end_ns: int | None, evidence: dict[str, Any], *, done: str,
            never: str) -> Observation:
    """Seconds from ``start_ns`` to ``end_ns``; unbounded when it never ended (``done`` formats ``took``)."""
    if end_ns is None:
        return Observation(value=None, unit=Unit.SECONDS, unbounded=True, evidence=evidence, note=never)
    took = seconds(end_ns - start_ns)
    return Observation(value=took, unit=Unit.SECONDS, evidence=evidence, note=done.format(took=took))
