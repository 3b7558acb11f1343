"""The front door's routing table (pure): one immutable table per generation, swapped whole.

A request is routed with exactly one table, so a swap moves all new traffic in one step. The
weighted choice is smooth weighted round-robin (nginx's): deterministic, no random numbers, and
as even as the weights allow — 90/10 sends 1 request in 10 to the second upstream, spread out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from trading_stack.deploy.actions import Upstream

__all__ = ["FrontDoorConfig", "Route", "Routes", "UnknownInstance", "UpstreamsRequest", "owner_of"]


class FrontDoorConfig(BaseModel):
    """``python -m trading_stack.front_door --config front_door.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    http_port: int = Field(ge=0, le=65535)
    admin_token: str = Field(min_length=1)
    nats_url: str | None = None
    instances: dict[str, HttpUrl] = Field(min_length=1, description="OMS instance -> its base URL")
    upstreams: tuple[Upstream, ...] = Field(min_length=1, description="the first routing table")
    request_timeout_s: float = Field(default=10.0, gt=0)
    outcome_interval_s: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _known_upstreams(self) -> FrontDoorConfig:
        unknown = sorted({u.instance for u in self.upstreams} - set(self.instances))
        if unknown:
            raise ValueError(f"upstreams name unknown instances {unknown}; known: {sorted(self.instances)}")
        return self


class UpstreamsRequest(BaseModel):
    """``PUT /admin/upstreams``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    upstreams: tuple[Upstream, ...] = Field(min_length=1)


class UnknownInstance(ValueError):
    """An upstream names an instance the front door has no URL for."""


@dataclass(frozen=True)
class Route:
    instance: str
    url: str
    weight: int


@dataclass(frozen=True)
class Routes:
    """One generation of the routing table. ``pick`` keeps the round-robin state of this table only."""

    generation: int
    routes: tuple[Route, ...]
    _current: list[int] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def build(cls, generation: int, upstreams: Sequence[Upstream], urls: Mapping[str, str]) -> Routes:
        unknown = sorted({u.instance for u in upstreams} - set(urls))
        if unknown:
            raise UnknownInstance(f"unknown instance(s) {unknown}; known: {sorted(urls)}")
        routes = tuple(Route(u.instance, urls[u.instance].rstrip("/"), u.weight) for u in upstreams)
        return cls(generation, routes, [0] * len(routes))

    @property
    def instances(self) -> tuple[str, ...]:
        return tuple(route.instance for route in self.routes)

    def pick(self) -> Route:
        total = sum(route.weight for route in self.routes)
        for index, route in enumerate(self.routes):
            self._current[index] += route.weight
        best = max(range(len(self.routes)), key=lambda i: self._current[i])
        self._current[best] -= total
        return self.routes[best]

    def primary(self) -> Route:
        """The heaviest upstream (reads go there, so they see one instance's view)."""
        return max(self.routes, key=lambda route: route.weight)

    def find(self, instance: str) -> Route | None:
        return next((route for route in self.routes if route.instance == instance), None)

    def describe(self) -> list[dict[str, object]]:
        return [{"instance": r.instance, "weight": r.weight} for r in self.routes]


def owner_of(order_id: str, instances: Sequence[str]) -> str | None:
    """The instance whose ClOrdIDs start with ``<instance>-`` (the longest name wins)."""
    matching = [name for name in instances if order_id.startswith(f"{name}-")]
    return max(matching, key=len, default=None)
