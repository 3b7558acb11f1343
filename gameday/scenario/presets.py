"""Stack presets: which services a preset runs and which proxied hops join them.

The scenario loader validates fault targets and proxy names against these; the stack backend
starts exactly these services and one fault proxy per hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["PRESETS", "Hop", "StackPreset", "StackTopology", "hop_name", "topology"]


class StackPreset(StrEnum):
    ACTIVE_PASSIVE = "active-passive"


def hop_name(source: str, destination: str) -> str:
    """The name of a proxied hop as scenarios write it: ``<from>-><to>``."""
    return f"{source}->{destination}"


@dataclass(frozen=True)
class Hop:
    """A proxied connection from one service to another (a fault proxy sits on it)."""

    source: str
    destination: str

    @property
    def name(self) -> str:
        return hop_name(self.source, self.destination)


@dataclass(frozen=True)
class StackTopology:
    """The services of a preset, in start order, and the hops between them."""

    services: tuple[str, ...]
    hops: tuple[Hop, ...]

    @property
    def hop_names(self) -> tuple[str, ...]:
        return tuple(hop.name for hop in self.hops)


PRESETS: dict[StackPreset, StackTopology] = {
    StackPreset.ACTIVE_PASSIVE: StackTopology(
        services=("nats", "postgres", "toxiproxy", "exchange", "oms-primary", "oms-dr", "failover"),
        hops=(
            Hop("oms-primary", "exchange"),
            Hop("oms-dr", "exchange"),
            Hop("oms-primary", "nats"),
            Hop("oms-dr", "nats"),
            Hop("oms-primary", "postgres"),
            Hop("oms-dr", "postgres"),
            Hop("failover", "oms-primary"),
            Hop("failover", "oms-dr"),
            Hop("failover", "nats"),
        ),
    ),
}


def topology(preset: StackPreset) -> StackTopology:
    return PRESETS[preset]
