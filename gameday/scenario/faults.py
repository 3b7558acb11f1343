"""Faults on a scenario's timeline, discriminated by their ``fault`` key.

Each fault starts ``at`` a time after the workload starts; those with ``for`` are healed after it,
the others at the run's final heal. A fault with ``for`` may repeat (``every`` with ``count`` or
``until``, :mod:`gameday.scenario.repeat`). Network faults are toxics on a named proxied hop; exchange
faults are switched on through the venue's admin API. Any fault may carry an ``id`` (a slug) that
expectations name it by (``rto.failover: {from: <id>}``).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from gameday.scenario.duration import Duration
from gameday.scenario.invalid import invalid
from gameday.scenario.limits import MAX_DURATION_NS, MAX_INT64
from gameday.scenario.repeat import Repeat
from gameday.scenario.replay_params import FILE_KEY, ReplayParamsError, read_replay_file
from mock_exchange.faults import FaultKind as ExchangeFaultKind
from mock_exchange.faults import FaultParamsError, parse_fault

__all__ = [
    "BandwidthFault",
    "ExchangeFault",
    "ExchangeFaultKind",
    "Fault",
    "FaultBase",
    "FaultId",
    "FaultKind",
    "KillFault",
    "KillSignal",
    "LatencyFault",
    "LimitDataFault",
    "PartitionFault",
    "PartitionMode",
    "PauseFault",
    "PositiveDuration",
    "ProxyName",
    "ResetPeerFault",
    "ServiceName",
    "SlicerFault",
    "Stream",
    "ToxicFault",
    "occurrences_of",
]


def _positive(duration: Duration) -> Duration:
    if duration.ns <= 0:
        raise ValueError("expected a duration greater than 0")
    return duration


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
Milliseconds = Annotated[int, Field(ge=0, le=MAX_DURATION_NS // 1_000_000)]
"""A toxic's time in milliseconds: at most 24 h, like every duration."""
AnyFault = TypeVar("AnyFault", bound="FaultBase")
_FAULT_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def _fault_id(name: str) -> str:
    if not _FAULT_ID.match(name):
        raise invalid("fault_id", "expected an id of lowercase letters, digits and '-'")
    return name


FaultId = Annotated[str, AfterValidator(_fault_id)]
"""A fault's own name in its scenario, unique there (checked by the scenario)."""
ServiceName = Annotated[str, Field(min_length=1)]
"""A service of the stack's preset (checked against the preset by the scenario)."""
ProxyName = Annotated[str, Field(min_length=1)]
"""A proxied hop ``<from>-><to>`` of the stack's preset (checked against the preset by the scenario)."""


class FaultKind(StrEnum):
    KILL = "kill"
    PAUSE = "pause"
    LATENCY = "latency"
    PARTITION = "partition"
    BANDWIDTH = "bandwidth"
    RESET_PEER = "reset_peer"
    SLICER = "slicer"
    LIMIT_DATA = "limit_data"
    EXCHANGE = "exchange"


class KillSignal(StrEnum):
    SIGKILL = "SIGKILL"
    SIGTERM = "SIGTERM"


class Stream(StrEnum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


class PartitionMode(StrEnum):
    DOWN = "down"
    """the proxy refuses connections and drops open ones"""
    TIMEOUT = "timeout"
    """the proxy accepts but never delivers (a black hole)"""


class FaultBase(BaseModel):
    """What every timeline fault has: its start, an optional id, and optional repeat keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    at: Duration
    id: FaultId | None = None
    every: PositiveDuration | None = None
    """repeat: start again this long after each start (see :mod:`gameday.scenario.repeat`)"""
    count: int | None = Field(default=None, ge=1)
    until: Duration | None = None

    @property
    def heal_after(self) -> Duration | None:
        """How long after ``at`` the fault is healed; ``None``: at the run's final heal."""
        duration: Duration | None = getattr(self, "duration", None)
        return duration

    @property
    def repeat(self) -> Repeat:
        kind = str(getattr(self, "fault", ""))
        return Repeat(self.at, self.every, self.count, self.until, self.heal_after, kind)

    @model_validator(mode="after")
    def _repeats_without_overlap(self) -> Self:
        problems = self.repeat.problems()
        if problems:
            raise ValidationError.from_exception_data("fault", problems)
        return self


class KillFault(FaultBase):
    """Send ``signal`` to a service's process."""

    fault: Literal[FaultKind.KILL] = FaultKind.KILL
    target: ServiceName
    signal: KillSignal = KillSignal.SIGKILL


class PauseFault(FaultBase):
    """SIGSTOP a service, then SIGCONT it after ``for`` (a slow-but-not-dead process)."""

    fault: Literal[FaultKind.PAUSE] = FaultKind.PAUSE
    target: ServiceName
    duration: PositiveDuration = Field(alias="for")


class ToxicFault(FaultBase):
    """A toxic on a proxied hop for ``for``; subclasses name the toxic and its attributes."""

    toxic_type: ClassVar[str]
    proxy: ProxyName
    stream: Stream = Stream.DOWNSTREAM
    duration: PositiveDuration = Field(alias="for")

    def attributes(self) -> dict[str, Any]:
        raise NotImplementedError


class LatencyFault(ToxicFault):
    """Add latency (and jitter) to a proxied hop for ``for``."""

    toxic_type = "latency"
    fault: Literal[FaultKind.LATENCY] = FaultKind.LATENCY
    latency_ms: Milliseconds
    jitter_ms: Milliseconds = 0

    def attributes(self) -> dict[str, Any]:
        return {"latency": self.latency_ms, "jitter": self.jitter_ms}


class BandwidthFault(ToxicFault):
    """Limit a hop to ``rate_kb`` KB/s (0 blocks every byte)."""

    toxic_type = "bandwidth"
    fault: Literal[FaultKind.BANDWIDTH] = FaultKind.BANDWIDTH
    rate_kb: int = Field(ge=0, le=MAX_INT64)

    def attributes(self) -> dict[str, Any]:
        return {"rate": self.rate_kb}


class ResetPeerFault(ToxicFault):
    """Reset connections (TCP RST) after ``timeout_ms`` (0: at once)."""

    toxic_type = "reset_peer"
    fault: Literal[FaultKind.RESET_PEER] = FaultKind.RESET_PEER
    timeout_ms: Milliseconds = 0

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


class SlicerFault(ToxicFault):
    """Slice data into small chunks with a delay between them."""

    toxic_type = "slicer"
    fault: Literal[FaultKind.SLICER] = FaultKind.SLICER
    average_size: int = Field(gt=0, le=MAX_INT64)
    size_variation: int = Field(default=0, ge=0, le=MAX_INT64)
    delay_us: int = Field(default=0, ge=0, le=MAX_DURATION_NS // 1_000)

    def attributes(self) -> dict[str, Any]:
        return {"average_size": self.average_size, "size_variation": self.size_variation,
                "delay": self.delay_us}


class LimitDataFault(ToxicFault):
    """Close each connection after ``bytes`` bytes."""

    toxic_type = "limit_data"
    fault: Literal[FaultKind.LIMIT_DATA] = FaultKind.LIMIT_DATA
    bytes: int = Field(gt=0, le=MAX_INT64)

    def attributes(self) -> dict[str, Any]:
        return {"bytes": self.bytes}


class PartitionFault(FaultBase):
    """Cut a proxied hop for ``for``."""

    fault: Literal[FaultKind.PARTITION] = FaultKind.PARTITION
    proxy: ProxyName
    mode: PartitionMode = PartitionMode.DOWN
    duration: PositiveDuration = Field(alias="for")


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
ExchangeParam = str | int | FiniteFloat | bool | list[str] | dict[str, FiniteFloat]
"""A venue fault parameter: a scalar, a list of names, or a mapping of numbers (``mix``)."""


class ExchangeFault(FaultBase):
    """Switch on a venue misbehaviour through its admin API; ``params`` go to the venue as they are,
    checked at load time by the venue's own fault models."""

    fault: Literal[FaultKind.EXCHANGE] = FaultKind.EXCHANGE
    kind: ExchangeFaultKind
    params: dict[str, ExchangeParam] = {}
    duration: PositiveDuration | None = Field(default=None, alias="for")

    @field_validator("params")
    @classmethod
    def _params_the_venue_accepts(cls, params: dict[str, ExchangeParam], info: ValidationInfo,
                                  ) -> dict[str, ExchangeParam]:
        kind = info.data.get("kind")
        if kind is ExchangeFaultKind.REPLAY and FILE_KEY in params:
            base = info.context.get("base_dir") if isinstance(info.context, dict) else None
            if base is None:  # read back without its files: the run already read it
                return params
            try:
                params = read_replay_file(params, base)
            except ReplayParamsError as error:
                raise invalid("exchange_params", f"the venue would refuse replay: {error}") from None
        if kind is not None:
            try:
                parse_fault(kind, params)
            except FaultParamsError as error:
                raise invalid("exchange_params", f"the venue would refuse {kind.value}: {error}") from None
        return params


def occurrences_of(fault: AnyFault) -> tuple[AnyFault, ...]:
    """``fault`` once per occurrence, each with its own ``at`` and no repeat keys (``(fault,)`` when
    it does not repeat)."""
    if fault.every is None:
        return (fault,)
    return tuple(fault.model_copy(update={"at": start, "every": None, "count": None, "until": None})
                 for start in fault.repeat.starts())


Fault = Annotated[
    KillFault | PauseFault | LatencyFault | BandwidthFault | ResetPeerFault | SlicerFault | LimitDataFault
    | PartitionFault | ExchangeFault,
    Field(discriminator="fault"),
]
