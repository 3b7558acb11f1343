"""What every preset with a deployer adds to the local stack: the front door, the deployer, restarts.

A subclass names its preset and the two instances the deployer knows (``blue_instance``, the one
serving when a deploy starts, and ``green_instance``, dormant until the deployer launches it), and
starts its services; this base wires the front door (blue at 100 %), the deployer (its blue and green
reached through their ``deployer->`` hops), the venue's market clock and fill venues, the scenario's
OMS settings, and ``restart`` for the services registered with :meth:`_start_restartable`. The
market clock's anchor (monotonic ns at stack start) goes to the deployer and into the run record.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from pydantic import BaseModel

from gameday.scenario.deploy_spec import DeploymentSpec
from gameday.scenario.presets import StackPreset
from gameday.stack.errors import StackError
from gameday.stack.process import ManagedProcess
from gameday.stack.services import start_python_service, write_config
from mock_exchange.config import VenueConfig
from mock_exchange.market_clock import MarketClockConfig
from reference_target.local import LocalStack, StackSettings
from trading_stack.deploy.actions import Upstream
from trading_stack.deploy.config import DeployConfig
from trading_stack.deploy.service_config import ClockSpec as DeployerClock
from trading_stack.deploy.service_config import DeployerServiceConfig, OmsAdminUrls
from trading_stack.front_door_routes import FrontDoorConfig

__all__ = ["GREEN", "DeployingStack", "Starter"]

GREEN = "oms-green"

Starter = Callable[[], Awaitable[ManagedProcess]]


class DeployingStack(LocalStack):
    """A local stack with a front door and a deployer; ``restart`` gives a service a new boot."""

    preset: ClassVar[StackPreset]
    blue_instance: ClassVar[str]
    green_instance: ClassVar[str] = GREEN

    def __init__(self, settings: StackSettings) -> None:
        if settings.preset is not self.preset:
            raise ValueError(f"expected preset {self.preset}, got {settings.preset}")
        super().__init__(settings)
        self.deployment = settings.deployment or DeploymentSpec()
        self.anchor_ns = time.monotonic_ns()
        self._starters: dict[str, Starter] = {}

    # --- start-up -----------------------------------------------------------------------------

    async def _proxy_to(self, upstream_by_service: dict[str, str]) -> None:
        """Proxies for every hop into these services."""
        await self._add_proxies({hop.name: upstream_by_service[hop.destination] for hop in self._hops
                                 if hop.destination in upstream_by_service})

    async def _start_restartable(self, service: str, starter: Starter) -> ManagedProcess:
        self._starters[service] = starter
        return await starter()

    def _venue_config(self) -> VenueConfig:
        fields = super()._venue_config().model_dump()
        clock = self.deployment.clock
        if clock is not None:
            fields["market_clock"] = MarketClockConfig(timezone=clock.tz, start=clock.start, rate=clock.rate)
        return VenueConfig.model_validate(fields)

    def _deployment_fields(self, instance: str) -> dict[str, Any]:
        """The scenario's OMS settings for ``instance``: the shutdown bounds for every instance, the
        build for all but green (green's comes with its launch), the breaker with the stack's defects."""
        spec, extra = self.deployment, {}
        if spec.oms is not None:
            extra = spec.oms.model_dump(exclude_none=True, exclude={"version"})
            if instance != self.green_instance and spec.oms.version is not None:
                extra["version"] = spec.oms.version
        if spec.breaker is not None:
            # validated, not model_copy(update=...): the defects are names here and the model holds Defects
            extra["breaker"] = type(spec.breaker).model_validate(
                {**spec.breaker.model_dump(), "defects": self.settings.defects})
        return extra

    def _proxied_url(self, hop: str) -> str:
        return f"http://{self.endpoints.proxies[hop]}"

    async def _start_service(self, name: str, module: str, config: BaseModel) -> ManagedProcess:
        """``python -m module --config <name>.json``, ready when ``/health`` answers."""
        assert self._session is not None
        run = self.settings.run_dir
        path = write_config(run.stack / f"{name}.json", config.model_dump_json(indent=1))
        return await start_python_service(
            name, module, ["--config", str(path)], run.stack / f"{name}.log",
            ready_url="http://127.0.0.1:{http}/health", session=self._session,
            on_spawn=self._track, timeout_s=self.settings.start_timeout_s,
        )

    async def _start_front_door(self) -> None:
        """The front door: blue and green behind their ``front-door->`` hops, blue taking every order."""
        config = FrontDoorConfig(
            http_port=0, admin_token=self.settings.admin_token,
            nats_url=f"nats://{self.endpoints.proxies['front-door->nats']}",
            instances={instance: self._proxied_url(f"front-door->{instance}")
                       for instance in (self.blue_instance, self.green_instance)},
            upstreams=(Upstream(instance=self.blue_instance, weight=100),),
        )
        process = await self._start_service("front-door", "trading_stack.front_door", config)
        self.endpoints.front_door = f"http://127.0.0.1:{process.ports['http']}"
        await self._proxy_to({"front-door": self.endpoints.front_door.removeprefix("http://")})

    async def _start_deployer(self) -> None:
        spec = self.deployment
        clock = None if spec.clock is None else DeployerClock(
            start=spec.clock.start, tz=spec.clock.tz, rate=spec.clock.rate, anchor_ns=self.anchor_ns)
        deploy = DeployConfig.model_validate({**(spec.deploy or DeployConfig()).model_dump(),
                                              "blue": self.blue_instance, "green": self.green_instance})
        config = DeployerServiceConfig(
            http_port=0, admin_token=self.settings.admin_token,
            nats_url=f"nats://{self.endpoints.proxies['deployer->nats']}",
            front_door_admin_url=self._proxied_url("deployer->front-door"),
            oms_admin_urls=OmsAdminUrls(blue=self._proxied_url(f"deployer->{self.blue_instance}"),
                                        green=self._proxied_url(f"deployer->{self.green_instance}")),
            deploy=deploy, schedule=spec.schedule, clock=clock, defects=self.settings.defects,
        )
        process = await self._start_service("deployer", "trading_stack.deploy.service", config)
        self.endpoints.deployer = f"http://127.0.0.1:{process.ports['http']}"

    # --- restarts -----------------------------------------------------------------------------

    async def restart(self, service: str, sig: signal.Signals, grace_s: float) -> dict[str, Any]:
        """Signal ``service``, wait up to ``grace_s`` for it to exit (then SIGKILL), start it again.

        The new boot listens on a new port: the proxies into it and the stack's endpoints follow.
        """
        process, starter = self.processes.get(service), self._starters.get(service)
        if process is None or starter is None:
            raise StackError(f"{service!r} cannot be restarted; restartable: {sorted(self._starters)}")
        began = time.monotonic()
        process.signal(sig)
        try:
            code = await asyncio.wait_for(process.proc.wait(), grace_s)
            forced = False
        except TimeoutError:
            process.signal(signal.SIGKILL)
            code, forced = await process.proc.wait(), True
        await process.stop()
        stopped_s = round(time.monotonic() - began, 3)
        self.processes.pop(service, None)
        self._registry.remove(service)
        fresh = await starter()
        await self._repoint(service, f"127.0.0.1:{fresh.ports['http']}")
        return {"exit_code": code, "killed_after_grace": forced, "stopped_s": stopped_s,
                "restarted_s": round(time.monotonic() - began, 3), "pid": fresh.pid}

    async def _repoint(self, service: str, address: str) -> None:
        assert self.toxiproxy is not None
        for hop in self._hops:
            if hop.destination == service:
                await self.toxiproxy.update_proxy(hop.name, upstream=address)

    def describe(self) -> dict[str, Any]:
        described = super().describe()
        roles = described.pop("initial_roles", None)
        spec = self.deployment
        described.update(preset=self.settings.preset.value, front_door=self.endpoints.front_door,
                         deployer=self.endpoints.deployer, initial_roles=roles)
        if spec.clock is not None:
            described["clock"] = {**spec.clock.model_dump(mode="json"), "anchor_ns": self.anchor_ns}
        if spec.breaker is not None:
            described["breaker"] = spec.breaker.model_dump(mode="json", exclude={"defects"})
        if spec.schedule is not None:  # the declared deploy window: deploy.local_start_time grades against it
            described["schedule"] = spec.schedule.model_dump(mode="json", exclude={"defects"})
        return described
