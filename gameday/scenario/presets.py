"""Stack presets: which services a preset runs and which proxied hops join them.

The scenario loader validates fault targets and proxy names against these; the stack backend
starts exactly these services and one fault proxy per hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["PRESETS", "REGION_RTT_MS", "Hop", "InitialRole", "Region", "StackPreset", "StackTopology",
           "hop_name", "presets_with_deployer", "region_rtt_ms", "topology"]


class StackPreset(StrEnum):
    ACTIVE_PASSIVE = "active-passive"
    BLUE_GREEN = "blue-green"
    ACTIVE_PASSIVE_DEPLOY = "active-passive-deploy"
    """active-passive plus a dormant green, the front door and the deployer (a dark launch beside a DR)"""


class InitialRole(StrEnum):
    """The role an OMS instance starts in (the SUT contract's roles, less ``fenced``)."""

    ACTIVE = "active"
    STANDBY = "standby"
    SHADOW = "shadow"
    DORMANT = "dormant"
    """serves HTTP only until it is launched (a deploy's green)"""


class Region(StrEnum):
    US_EAST_1 = "us-east-1"
    US_WEST_2 = "us-west-2"
    EU_WEST_1 = "eu-west-1"
    AP_SOUTHEAST_1 = "ap-southeast-1"


REGION_RTT_MS: dict[frozenset[Region], int] = {
    frozenset({Region.US_EAST_1, Region.US_WEST_2}): 70,
    frozenset({Region.US_EAST_1, Region.EU_WEST_1}): 80,
    frozenset({Region.US_EAST_1, Region.AP_SOUTHEAST_1}): 240,
}
"""Baseline round trips between region pairs, from seed 002 (its primary region is us-east-1)."""


def region_rtt_ms(a: Region, b: Region) -> int | None:
    """The pair's baseline round trip; ``None`` for a pair with no figure."""
    return 0 if a == b else REGION_RTT_MS.get(frozenset({a, b}))


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
    vantages: tuple[str, ...] = ()
    """Health-check paths that are not services (a second path to the primary)."""
    oms_instances: tuple[str, ...] = ()
    """The services that are OMS instances."""
    restartable: tuple[str, ...] = ()
    """The services the preset's stack can stop and start again (the ``restart`` action)."""
    feed_hops: tuple[Hop, ...] = ()
    """Hops from OMS instances to the venue's market-data feeds (``oms-primary->feed-a``), proxied only
    when the scenario asks for market data (issue 16); not among ``hops``."""

    @property
    def has_deployer(self) -> bool:
        return "deployer" in self.services

    @property
    def hop_names(self) -> tuple[str, ...]:
        return tuple(hop.name for hop in self.hops)


_ACTIVE_PASSIVE = StackTopology(
    services=("nats", "postgres", "postgres-replica", "toxiproxy", "exchange", "oms-primary", "oms-dr",
              "failover", "db-failover"),
    hops=(
        Hop("oms-primary", "exchange"),
        Hop("oms-dr", "exchange"),
        Hop("oms-primary", "nats"),
        Hop("oms-dr", "nats"),
        Hop("oms-primary", "postgres"),
        Hop("oms-dr", "postgres"),
        Hop("oms-primary", "postgres-replica"),
        Hop("oms-dr", "postgres-replica"),
        Hop("failover", "oms-primary"),
        Hop("witness", "oms-primary"),
        Hop("failover", "oms-dr"),
        Hop("failover", "nats"),
    ),
    vantages=("witness",),
    oms_instances=("oms-primary", "oms-dr"),
    feed_hops=(Hop("oms-primary", "feed-a"), Hop("oms-primary", "feed-b"),
               Hop("oms-dr", "feed-a"), Hop("oms-dr", "feed-b")),
)

PRESETS: dict[StackPreset, StackTopology] = {
    StackPreset.ACTIVE_PASSIVE: _ACTIVE_PASSIVE,
    StackPreset.BLUE_GREEN: StackTopology(
        services=("nats", "postgres", "toxiproxy", "exchange", "oms-blue", "oms-green", "front-door",
                  "deployer"),
        hops=(
            Hop("oms-blue", "exchange"),
            Hop("oms-green", "exchange"),
            Hop("oms-blue", "nats"),
            Hop("oms-green", "nats"),
            Hop("oms-blue", "postgres"),
            Hop("oms-green", "postgres"),
            Hop("front-door", "oms-blue"),
            Hop("front-door", "oms-green"),
            Hop("front-door", "nats"),
            Hop("deployer", "oms-blue"),
            Hop("deployer", "oms-green"),
            Hop("deployer", "front-door"),
            Hop("deployer", "nats"),
        ),
        oms_instances=("oms-blue", "oms-green"),
        restartable=("oms-blue", "oms-green"),
    ),
    # The failover preset unchanged, plus a dormant green (the deployer's green; its blue is
    # oms-primary), the front door and the deployer (reference_target/dark_launch.py).
    StackPreset.ACTIVE_PASSIVE_DEPLOY: StackTopology(
        services=(*_ACTIVE_PASSIVE.services, "oms-green", "front-door", "deployer"),
        hops=(
            *_ACTIVE_PASSIVE.hops,
            Hop("oms-green", "exchange"),
            Hop("oms-green", "nats"),
            Hop("oms-green", "postgres"),
            Hop("oms-green", "postgres-replica"),
            Hop("front-door", "oms-primary"),
            Hop("front-door", "oms-green"),
            Hop("front-door", "nats"),
            Hop("deployer", "oms-primary"),
            Hop("deployer", "oms-green"),
            Hop("deployer", "front-door"),
            Hop("deployer", "nats"),
        ),
        vantages=_ACTIVE_PASSIVE.vantages,
        oms_instances=(*_ACTIVE_PASSIVE.oms_instances, "oms-green"),
        restartable=("oms-primary", "oms-dr", "oms-green"),
    ),
}


def topology(preset: StackPreset) -> StackTopology:
    return PRESETS[preset]


def presets_with_deployer() -> tuple[StackPreset, ...]:
    """The presets whose stack runs a deployer (and a front door)."""
    return tuple(preset for preset, stack in PRESETS.items() if stack.has_deployer)
