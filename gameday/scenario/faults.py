"""Faults on a scenario's timeline, discriminated by their ``fault`` key.

Each fault starts ``at`` a time after the workload starts; those with ``for`` are healed after it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gameday.scenario.duration import Duration

__all__ = [
    "Fault",
    "FaultKind",
    "KillFault",
    "KillSignal",
    "LatencyFault",
    "PartitionFault",
    "PartitionMode",
    "PauseFault",
    "PositiveDuration",
    "ProxyName",
    "ServiceName",
    "Stream",
]


def _positive(duration: Duration) -> Duration:
    if duration.ns <= 0:
        raise ValueError("expected a duration greater than 0")
    return duration


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
ServiceName = Annotated[str, Field(min_length=1)]
"""A service of the stack's preset (checked against the preset by the scenario)."""
ProxyName = Annotated[str, Field(min_length=1)]
"""A proxied hop ``<from>-><to>`` of the stack's preset (checked against the preset by the scenario)."""


class FaultKind(StrEnum):
    KILL = "kill"
    PAUSE = "pause"
    LATENCY = "latency"
    PARTITION = "partition"


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


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    at: Duration


class KillFault(_Fault):
    """Send ``signal`` to a service's process."""

    fault: Literal[FaultKind.KILL] = FaultKind.KILL
    target: ServiceName
    signal: KillSignal = KillSignal.SIGKILL


class PauseFault(_Fault):
    """SIGSTOP a service, then SIGCONT it after ``for`` (a slow-but-not-dead process)."""

    fault: Literal[FaultKind.PAUSE] = FaultKind.PAUSE
    target: ServiceName
    duration: PositiveDuration = Field(alias="for")


class LatencyFault(_Fault):
    """Add latency (and jitter) to a proxied hop for ``for``."""

    fault: Literal[FaultKind.LATENCY] = FaultKind.LATENCY
    proxy: ProxyName
    latency_ms: int = Field(ge=0)
    jitter_ms: int = Field(default=0, ge=0)
    stream: Stream = Stream.DOWNSTREAM
    duration: PositiveDuration = Field(alias="for")


class PartitionFault(_Fault):
    """Cut a proxied hop for ``for``."""

    fault: Literal[FaultKind.PARTITION] = FaultKind.PARTITION
    proxy: ProxyName
    mode: PartitionMode = PartitionMode.DOWN
    duration: PositiveDuration = Field(alias="for")


Fault = Annotated[KillFault | PauseFault | LatencyFault | PartitionFault, Field(discriminator="fault")]
