"""The ``blue-green`` preset on the local stack: a deployment game day's services (docs/deploy.md §5).

NATS, one Postgres, the fault proxy and the venue come up as in the failover preset; then
``oms-blue`` (active, the scenario's build) and ``oms-green`` (dormant until the deployer
launches it), the front-door proxy the clients send to, and the deployer. Every hop between
them is proxied, so a scenario can slow green's event feed or cut green off the venue. The
market clock's anchor (monotonic ns at stack start) goes to the deployer and into the run record.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from gameday.probes import sample_roles
from gameday.scenario.deploy_spec import DeploymentSpec
from gameday.scenario.presets import StackPreset
from gameday.stack.errors import StackError
from gameday.stack.local import LocalStack, StackSettings, _comp_id, _gather_cancelling
from gameday.stack.postgres import start_postgres
from gameday.stack.process import ManagedProcess, wait_until
from gameday.stack.services import start_nats, start_python_service, write_config
from mock_exchange.config import VenueConfig
from mock_exchange.market_clock import MarketClockConfig
from trading_stack.config import InitialRole, OmsConfig
from trading_stack.deploy.actions import Upstream
from trading_stack.deploy.config import DeployConfig
from trading_stack.deploy.service_config import ClockSpec as DeployerClock
from trading_stack.deploy.service_config import DeployerServiceConfig, OmsAdminUrls
from trading_stack.front_door_routes import FrontDoorConfig

__all__ = ["BLUE", "GREEN", "BlueGreenStack", "stack_for"]

BLUE, GREEN = "oms-blue", "oms-green"
INITIAL_ROLES = {BLUE: InitialRole.ACTIVE, GREEN: InitialRole.DORMANT}

Starter = Callable[[], Awaitable[ManagedProcess]]


class BlueGreenStack(LocalStack):
    """``async with BlueGreenStack(settings) as stack:``; ``restart`` gives a service a new boot."""

    def __init__(self, settings: StackSettings) -> None:
        if settings.preset is not StackPreset.BLUE_GREEN:
            raise ValueError(f"expected preset {StackPreset.BLUE_GREEN}, got {settings.preset}")
        super().__init__(settings)
        self.deployment = settings.deployment or DeploymentSpec()
        self.anchor_ns = time.monotonic_ns()
        self._starters: dict[str, Starter] = {}

    # --- start-up -----------------------------------------------------------------------------

    async def _start(self) -> None:
        assert self._session is not None
        run = self.settings.run_dir
        template = await self._postgres_template()
        self.anchor_ns = time.monotonic_ns()
        nats, database, _, toxiproxy_url = await _gather_cancelling(
            start_nats(run.scratch / "nats", self._session, self._track),
            start_postgres(run.scratch / "pgdata", template, run.stack / "postgres.log", self._track),
            self._start_venue(),
            self._start_toxiproxy(),
        )
        self._attach(nats.url, database.dsn, toxiproxy_url)
        await self._nats_ready()
        await self._proxy_to({"exchange": f"127.0.0.1:{self.processes['exchange'].ports['fix']}",
                              "nats": nats.url.removeprefix("nats://"), "postgres": database.address})
        await _gather_cancelling(*(self._start_restartable(instance, self._oms_starter(instance))
                                   for instance in INITIAL_ROLES))
        await self._proxy_to({instance: self.endpoints.oms[instance].removeprefix("http://")
                              for instance in INITIAL_ROLES})
        await self._start_front_door()
        await self._start_deployer()
        await self._wait_for_trading()

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
        if self.deployment.venue is not None:
            fields.update(self.deployment.venue.model_dump())
        return VenueConfig.model_validate(fields)

    def _oms_config(self, instance: str) -> OmsConfig:
        fix_host, fix_port = self.proxy_address(f"{instance}->exchange")
        nats_host, nats_port = self.proxy_address(f"{instance}->nats")
        spec, defects = self.deployment, self.settings.defects
        extra: dict[str, Any] = {}
        if spec.oms is not None:
            extra = spec.oms.model_dump(exclude_none=True, exclude={"version"})
            if instance == BLUE:
                extra["version"] = spec.oms.version
        if spec.breaker is not None:
            extra["breaker"] = spec.breaker.model_copy(update={"defects": defects})
        return OmsConfig(
            instance_id=instance, initial_role=INITIAL_ROLES[instance], http_port=0,
            admin_token=self.settings.admin_token, fix_host=fix_host, fix_port=fix_port,
            fix_sender_comp_id=_comp_id(instance), nats_url=f"nats://{nats_host}:{nats_port}",
            database_dsn=f"postgresql://postgres@{self.endpoints.proxies[f'{instance}->postgres']}/postgres",
            defects=defects, **extra,
        )

    def _oms_starter(self, instance: str) -> Starter:
        async def start() -> ManagedProcess:
            process = await self._start_service(instance, "trading_stack.oms", self._oms_config(instance))
            self.endpoints.oms[instance] = f"http://127.0.0.1:{process.ports['http']}"
            return process

        return start

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
        config = FrontDoorConfig(
            http_port=0, admin_token=self.settings.admin_token,
            nats_url=f"nats://{self.endpoints.proxies['front-door->nats']}",
            instances={instance: self._proxied_url(f"front-door->{instance}") for instance in INITIAL_ROLES},
            upstreams=(Upstream(instance=BLUE, weight=100),),
        )
        process = await self._start_service("front-door", "trading_stack.front_door", config)
        self.endpoints.front_door = f"http://127.0.0.1:{process.ports['http']}"
        await self._proxy_to({"front-door": self.endpoints.front_door.removeprefix("http://")})

    async def _start_deployer(self) -> None:
        spec = self.deployment
        clock = None if spec.clock is None else DeployerClock(
            start=spec.clock.start, tz=spec.clock.tz, rate=spec.clock.rate, anchor_ns=self.anchor_ns)
        config = DeployerServiceConfig(
            http_port=0, admin_token=self.settings.admin_token,
            nats_url=f"nats://{self.endpoints.proxies['deployer->nats']}",
            front_door_admin_url=self._proxied_url("deployer->front-door"),
            oms_admin_urls=OmsAdminUrls(blue=self._proxied_url(f"deployer->{BLUE}"),
                                        green=self._proxied_url(f"deployer->{GREEN}")),
            deploy=spec.deploy or DeployConfig(), schedule=spec.schedule, clock=clock,
            defects=self.settings.defects,
        )
        process = await self._start_service("deployer", "trading_stack.deploy.service", config)
        self.endpoints.deployer = f"http://127.0.0.1:{process.ports['http']}"

    async def _wait_for_trading(self) -> None:
        """Ready: blue active and deep-healthy, green serving and dormant."""
        assert self._session is not None
        session = self._session

        async def trading() -> bool:
            roles = await sample_roles(session, self.endpoints.oms)
            blue, green = roles[BLUE], roles[GREEN]
            return blue["role"] == "active" and blue["deep_ok"] and green["role"] == "dormant"

        await wait_until("oms", trading, timeout_s=self.settings.start_timeout_s,
                         log_path=self.settings.run_dir.stack / f"{BLUE}.log")

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
        described.pop("initial_roles", None)
        spec = self.deployment
        described.update(preset=self.settings.preset.value, front_door=self.endpoints.front_door,
                         deployer=self.endpoints.deployer,
                         initial_roles={name: role.value for name, role in INITIAL_ROLES.items()})
        if spec.clock is not None:
            described["clock"] = {**spec.clock.model_dump(mode="json"), "anchor_ns": self.anchor_ns}
        if spec.breaker is not None:
            described["breaker"] = spec.breaker.model_dump(mode="json", exclude={"defects"})
        if spec.schedule is not None:  # the declared deploy window: deploy.local_start_time grades against it
            described["schedule"] = spec.schedule.model_dump(mode="json", exclude={"defects"})
        return described


def stack_for(settings: StackSettings) -> LocalStack:
    """The local stack of the settings' preset."""
    return BlueGreenStack(settings) if settings.preset is StackPreset.BLUE_GREEN else LocalStack(settings)
