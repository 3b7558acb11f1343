"""What the runner tells a stack backend to start, and the endpoints a started stack exposes."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gameday.oms_api import DEFAULT_API, OmsApi, OmsInstances
from gameday.scenario.deploy_spec import DeploymentSpec
from gameday.scenario.presets import InitialRole, StackPreset
from gameday.stack.rundir import RunDir

__all__ = ["StackEndpoints", "StackSettings"]


@dataclass(frozen=True)
class StackSettings:
    run_dir: RunDir
    seed: int
    preset: StackPreset = StackPreset.ACTIVE_PASSIVE
    deployment: DeploymentSpec | None = None  # the settings of a preset with a deployer
    symbols: tuple[str, ...] = ("BTC-USD", "ETH-USD")
    defects: tuple[str, ...] = ()  # names of the target's known defects to switch on
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))  # a fresh secret per run
    # the run's database password and its own fault proxy's API token: fresh per run, in 0600 files only
    database_password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    proxy_token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    toxiproxy_url: str | None = None  # a real toxiproxy-server; None starts our own
    cache_dir: Path | None = None
    start_timeout_s: float = 20.0
    cross_region_rtt_ms: int = 0  # baseline round trip on hops between the primary and DR regions
    initial_roles: dict[str, InitialRole] = field(default_factory=dict)
    backend: str = "embedded"  # how the target starts its stack: "embedded" child processes or "compose"

    def initial_role(self, instance: str, defaults: Mapping[str, InitialRole]) -> InitialRole:
        return self.initial_roles.get(instance, defaults[instance])


@dataclass
class StackEndpoints:
    oms: dict[str, str] = field(default_factory=dict)  # instance -> base URL (the front door)
    oms_api: OmsApi = DEFAULT_API  # what speaks to the instances: a target's adapter, else the contract
    venue_admin: str = ""
    venue_admin_token: str | None = field(default=None, repr=False)  # the venue admin API's bearer token
    nats: str = ""
    toxiproxy: str = ""
    database_dsn: str = ""
    proxies: dict[str, str] = field(default_factory=dict)  # hop -> listen address
    front_door: str | None = None  # base URL of the front-door proxy, when the preset has one
    deployer: str | None = None  # base URL of the deployer, when the preset has one
    metrics: dict[str, str] = field(default_factory=dict)  # service -> its Prometheus /metrics URL
    logs: dict[str, str] = field(default_factory=dict)  # service -> its log file (a path or a glob)

    def __setattr__(self, name: str, value: object) -> None:
        """A plugin written before ``oms_api`` existed names its adapter with :class:`OmsInstances`."""
        legacy = self.__dict__.get("oms")
        if name == "oms_api" and value is DEFAULT_API and isinstance(legacy, OmsInstances):
            value = legacy.api
        super().__setattr__(name, value)
        if name == "oms" and isinstance(value, OmsInstances):
            super().__setattr__("oms_api", value.api)
