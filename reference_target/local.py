"""The embedded local stack: every service a child process on loopback, every hop proxied.

``async with LocalStack(settings) as stack:`` starts NATS, Postgres (a primary, then its streaming
replica), the fault proxy and the venue in parallel, routes every service-to-service hop through a
named proxy, then starts the OMS instances, the database failover daemon and the failover daemon.
Leaving the block stops everything, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import time
from collections.abc import Collection, Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import aiohttp

from gameday.faults.toxiproxy_client import ToxiproxyClient
from gameday.probes import sample_roles
from gameday.recorder import LeaseBucket, LeaseWatcher
from gameday.scenario.faults import ExchangeFaultKind
from gameday.scenario.presets import InitialRole, topology
from gameday.stack.errors import StackError
from gameday.stack.launcher import Launcher, use_launcher
from gameday.stack.postgres import (
    ensure_postgres_template,
    finished_in_thread,
    signal_with_children,
    start_database_pair,
)
from gameday.stack.process import ManagedProcess, wait_until
from gameday.stack.protocol import NatsObserver
from gameday.stack.rundir import ProcessRegistry
from gameday.stack.services import NatsService, start_nats, start_python_service, write_config
from gameday.stack.settings import StackEndpoints, StackSettings
from gameday.stack.venue_faults import heal_exchange_fault, put_exchange_fault
from mock_exchange.config import VenueConfig
from reference_target import local_configs as configs
from reference_target.db_failover import start_db_failover
from trading_stack.config import OmsConfig
from trading_stack.market_data.section import MarketDataSection

OMS_INSTANCES = {"oms-primary": InitialRole.ACTIVE, "oms-dr": InitialRole.STANDBY}
VENUE_SERVICE = "exchange"
DR_REGION_SERVICES = frozenset({"oms-dr"})
"""With regions, these run in the DR region and everything else in the primary region."""
PYTHON_SERVICES = ("mock_exchange", "gameday.proxy", "trading_stack.oms", "trading_stack.db_failover",
                   "trading_stack.failover")
DEPLOYER_SERVICES = ("trading_stack.front_door", "trading_stack.deploy.service")
"""The modules the stack runs with ``python -m``, in the order it starts them: its launcher imports them
once, while NATS and Postgres come up, and forks each service (``gameday.stack.launcher``)."""


class LocalStack:
    default_roles: ClassVar[Mapping[str, InitialRole]] = OMS_INSTANCES
    """The OMS instances this stack starts and the role each starts in unless the scenario says otherwise."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.endpoints = StackEndpoints()
        self.processes: dict[str, ManagedProcess] = {}
        self._infrastructure: frozenset[str] = frozenset()  # what the clients need: stopped last
        self.started_in_s: float | None = None
        self._exit = AsyncExitStack()
        self._registry = ProcessRegistry(settings.run_dir)
        self._session: aiohttp.ClientSession | None = None
        self.toxiproxy: ToxiproxyClient | None = None
        self._hops = topology(settings.preset).hops + configs.feed_hops(settings)
        self._nats_observers: list[NatsObserver] = []

    def observe_nats(self, observer: NatsObserver) -> None:
        """Enter ``observer(nats_url)`` as soon as NATS is ready, before any OMS or daemon starts
        (so their first messages are seen); it is exited before any process is stopped."""
        self._nats_observers.append(observer)

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        started = time.monotonic()
        self._registry.open()
        # exit callbacks run last-in first-out: stop processes, then remove scratch, then the registry
        self._exit.callback(self._registry.close)
        self._exit.callback(shutil.rmtree, self.settings.run_dir.scratch, True)
        try:
            self._session = await self._exit.enter_async_context(aiohttp.ClientSession())
            await self._start_launcher()  # stopped after every process it forked
            self._exit.push_async_callback(self._delete_own_proxies)  # after every process stopped
            self._exit.push_async_callback(self._stop_all)
            await self._start()
            self._observability()
        except BaseException:
            await self._exit.aclose()
            raise
        self.started_in_s = time.monotonic() - started
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._exit.aclose()

    async def _stop_all(self) -> None:
        """Clients first, all at once; then the infrastructure they used, all at once."""
        clients = [name for name in self.processes if name not in self._infrastructure]
        await asyncio.gather(*(self._stop(name) for name in clients))
        await asyncio.gather(*(self._stop(name) for name in list(self.processes)))

    async def _stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.shield(process.stop())
        self._registry.remove(name)

    async def _delete_own_proxies(self) -> None:
        if self.toxiproxy is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.toxiproxy.delete_own())

    def _track(self, process: ManagedProcess) -> None:
        self.processes[process.spec.name] = process
        self._registry.add(process)

    def python_modules(self) -> tuple[str, ...]:
        deployer = DEPLOYER_SERVICES if topology(self.settings.preset).has_deployer else ()
        own_proxy = self.settings.toxiproxy_url is None
        return tuple(m for m in (*PYTHON_SERVICES, *deployer) if own_proxy or m != "gameday.proxy")

    async def _start_launcher(self) -> None:
        """The fork server the Python services start from (none: each is exec'ed), registered for the
        reaper but not a service: no fault reaches it."""
        self.settings.run_dir.create()
        launcher = await Launcher.start(self.python_modules(), self.settings.run_dir.stack / "launcher.log",
                                        on_spawn=self._registry.add)
        if launcher is None:
            return

        async def close() -> None:
            use_launcher(None)
            with contextlib.suppress(Exception):
                await asyncio.shield(launcher.close())
            self._registry.remove(launcher.process.spec.name)

        self._exit.push_async_callback(close)
        use_launcher(launcher)

    # --- start-up -----------------------------------------------------------------------------

    async def _postgres_template(self) -> Path:
        """The run directory created, and the cached Postgres template every run copies."""
        run = self.settings.run_dir
        run.create()
        cache_dir = self.settings.cache_dir or run.reports_root / ".cache"
        return await finished_in_thread(ensure_postgres_template, cache_dir)

    def _attach(self, nats_url: str, database_dsn: str, toxiproxy_url: str) -> None:
        assert self._session is not None
        self.endpoints.nats = nats_url
        self.endpoints.database_dsn = database_dsn
        run = self.settings.run_dir
        self.toxiproxy = ToxiproxyClient(toxiproxy_url, self._session, owner=run.run_id,
                                         record=run.proxy_record, token=self._toxiproxy_token())
        self.endpoints.toxiproxy = toxiproxy_url

    async def _start(self) -> None:
        assert self._session is not None
        run = self.settings.run_dir
        template = await self._postgres_template()
        nats, database, venue, toxiproxy_url = await _gather_cancelling(
            start_nats(run.scratch / "nats", self._session, self._track),
            start_database_pair(run.scratch, run.stack, template, self._track,
                                password=self.settings.database_password),
            self._start_venue(),
            self._start_toxiproxy(),
        )
        self._infrastructure = frozenset(self.processes)
        self._attach(nats.url, database.dsn, toxiproxy_url)
        await self._nats_ready()
        upstreams = {
            "exchange": f"127.0.0.1:{venue.ports['fix']}",
            "nats": nats.url.removeprefix("nats://"),
            "postgres": database.primary.address,
            "postgres-replica": database.replica.address,
            **configs.feed_upstreams(self.market_data, venue.ports),
        }
        await self._add_proxies({hop.name: upstreams[hop.destination] for hop in self._hops
                                 if hop.destination in upstreams})
        oms_processes, _ = await _gather_cancelling(
            _gather_cancelling(*(self._start_oms(instance, self.initial_role(instance), nats)
                                 for instance in self.default_roles)),
            start_db_failover(database, nats.url, run.stack, self._session, self._track,
                              self.settings.start_timeout_s),
        )
        for instance, process in zip(self.default_roles, oms_processes, strict=True):
            self.endpoints.oms[instance] = f"http://127.0.0.1:{process.ports['http']}"
        await self._add_proxies({hop.name: self.endpoints.oms[hop.destination].removeprefix("http://")
                                 for hop in self._hops if hop.destination in self.endpoints.oms})
        await self._start_failover()
        await self._start_control_plane()
        await self._wait_for_trading()

    def initial_role(self, instance: str) -> InitialRole:
        return self.settings.initial_role(instance, self.default_roles)

    def _observability(self) -> None:
        """Where each service's metrics (its HTTP port's ``/metrics``; the venue's admin port) and log are."""
        for name, process in self.processes.items():
            port = process.ports.get("admin") if name == VENUE_SERVICE else process.ports.get("http")
            if port is not None:
                self.endpoints.metrics[name] = f"http://127.0.0.1:{port}/metrics"
                self.endpoints.logs[name] = str(process.spec.log_path)

    async def _start_control_plane(self) -> None:
        """Services started once the failover daemon runs, before the readiness wait (none here)."""

    async def _nats_ready(self) -> None:
        """Enter the NATS observers (exited LIFO, so before ``_stop_all`` stops NATS); one that can
        record the lease bucket's writes is told which bucket."""
        for observer in self._nats_observers:
            entered = await self._exit.enter_async_context(observer(self.endpoints.nats))
            if isinstance(entered, LeaseWatcher):
                await entered.watch_lease(self.lease())

    def lease(self) -> LeaseBucket:
        """The lease bucket and TTL of every OMS this stack starts (its configs keep the defaults)."""
        fields = OmsConfig.model_fields
        return LeaseBucket(bucket=fields["lease_bucket"].default, ttl_s=fields["lease_ttl_s"].default)

    async def _wait_for_trading(self) -> None:
        """Healthy = one instance active and deep-healthy, every configured standby deep-healthy.

        (An instance misconfigured as active that waits for the lease is never deep-healthy, so
        readiness is judged for the stack, not per instance.)
        """
        assert self._session is not None
        session = self._session
        standbys = [name for name in self.default_roles if self.initial_role(name) is InitialRole.STANDBY]

        async def trading() -> bool:
            roles = await sample_roles(session, self.endpoints.oms, api=self.endpoints.oms_api)
            active = any(sample["role"] == "active" and sample["deep_ok"] for sample in roles.values())
            return active and all(roles[name]["deep_ok"] for name in standbys)

        await wait_until("oms", trading, timeout_s=self.settings.start_timeout_s,
                         log_path=self.settings.run_dir.stack / "oms-primary.log")

    async def _add_region_latency_to(self, hop_names: Collection[str]) -> None:
        """The cross-region baseline: half the round trip each way on every hop between regions."""
        assert self.toxiproxy is not None
        one_way_ms = self.settings.cross_region_rtt_ms // 2
        if one_way_ms <= 0:
            return
        for hop in self._hops:
            if hop.name in hop_names and (
                    (hop.source in DR_REGION_SERVICES) != (hop.destination in DR_REGION_SERVICES)):
                for stream in ("upstream", "downstream"):
                    await self.toxiproxy.add_toxic(hop.name, "latency", name=f"region-baseline-{stream}",
                                                   stream=stream, attributes={"latency": one_way_ms})

    async def _add_proxies(self, upstream_by_hop: dict[str, str]) -> None:
        assert self.toxiproxy is not None
        created = await self.toxiproxy.populate(
            [{"name": hop, "listen": "127.0.0.1:0", "upstream": upstream, "enabled": True}
             for hop, upstream in upstream_by_hop.items()]
        )
        for proxy in created:
            self.endpoints.proxies[proxy["name"]] = proxy["listen"]
        await self._add_region_latency_to(upstream_by_hop)

    def proxy_address(self, hop: str) -> tuple[str, int]:
        return configs.proxy_address(self.endpoints, hop)

    def _toxiproxy_token(self) -> str | None:
        """The API token of the proxy this stack starts (a user's Toxiproxy, like the real one, has none)."""
        return None if self.settings.toxiproxy_url else self.settings.proxy_token

    async def _start_toxiproxy(self) -> str:
        if self.settings.toxiproxy_url:
            return self.settings.toxiproxy_url
        assert self._session is not None
        token_file = write_config(self.settings.run_dir.stack / "toxiproxy.token", self.settings.proxy_token)
        process = await start_python_service(
            "toxiproxy", "gameday.proxy",
            ["--host", "127.0.0.1", "--port", "0", "--seed", str(self.settings.seed),
             "--token-file", str(token_file)],
            self.settings.run_dir.stack / "toxiproxy.log",
            ready_url="http://127.0.0.1:{api}/version", session=self._session,
            on_spawn=self._track, timeout_s=self.settings.start_timeout_s,
        )
        return f"http://127.0.0.1:{process.ports['api']}"

    def _venue_config(self) -> VenueConfig:
        return configs.venue_config(self.settings)

    async def _start_venue(self) -> ManagedProcess:
        assert self._session is not None
        run = self.settings.run_dir
        path = write_config(run.stack / "exchange.json", self._venue_config().model_dump_json(indent=1))
        process = await start_python_service(
            "exchange", "mock_exchange", ["--config", str(path)], run.stack / "exchange.log",
            ready_url="http://127.0.0.1:{admin}/health", session=self._session,
            on_spawn=self._track, timeout_s=self.settings.start_timeout_s,
        )
        self.endpoints.venue_admin = f"http://127.0.0.1:{process.ports['admin']}"
        self.endpoints.venue_admin_token = self.settings.admin_token
        return process

    async def _start_oms(
        self, instance: str, role: InitialRole, nats: NatsService
    ) -> ManagedProcess:
        assert self._session is not None
        run = self.settings.run_dir
        config = self._oms_config_of(instance, role)
        path = write_config(run.stack / f"{instance}.json", config.model_dump_json(indent=1))
        return await start_python_service(
            instance, "trading_stack.oms", ["--config", str(path)], run.stack / f"{instance}.log",
            ready_url="http://127.0.0.1:{http}/health", session=self._session,
            on_spawn=self._track, timeout_s=self.settings.start_timeout_s,
        )

    def _oms_config_of(self, instance: str, role: InitialRole) -> OmsConfig:
        return configs.oms_config(instance, role, self.settings, self.endpoints)

    async def _start_failover(self) -> ManagedProcess:
        assert self._session is not None
        run = self.settings.run_dir
        config = configs.failover_config(self.settings, self.endpoints)
        path = write_config(run.stack / "failover.json", config.model_dump_json(indent=1))
        return await start_python_service(
            "failover", "trading_stack.failover", ["--config", str(path)], run.stack / "failover.log",
            ready_url="http://127.0.0.1:{http}/health", session=self._session,
            on_spawn=self._track, timeout_s=self.settings.start_timeout_s,
        )

    # --- what faults and probes use ------------------------------------------------------------

    async def signal(self, service: str, sig: signal.Signals) -> None:
        process = self.processes.get(service)
        if process is None:
            raise StackError(f"no running service named {service!r}; running: {sorted(self.processes)}")
        signal_with_children(process, sig)

    async def exchange_fault(self, kind: ExchangeFaultKind, params: dict[str, Any]) -> dict[str, Any]:
        assert self._session is not None
        return await put_exchange_fault(self._session, self.endpoints.venue_admin, kind, params,
                                        token=self.endpoints.venue_admin_token)

    async def heal_exchange_fault(self, kind: ExchangeFaultKind) -> None:
        assert self._session is not None
        await heal_exchange_fault(self._session, self.endpoints.venue_admin, kind,
                                  token=self.endpoints.venue_admin_token)

    def describe(self) -> dict[str, Any]:
        return {
            "services": {name: {"pid": p.pid, "ports": p.ports} for name, p in self.processes.items()},
            "proxies": dict(self.endpoints.proxies),
            "started_in_s": self.started_in_s,
            "cross_region_rtt_ms": self.settings.cross_region_rtt_ms,
            "initial_roles": {name: self.initial_role(name).value for name in self.default_roles},
            "lease": self.lease().describe(),
            **({} if self.market_data is None else {"market_data": self.market_data.model_dump(mode="json")}),
        }

    @property
    def market_data(self) -> MarketDataSection | None:
        """The scenario's ``stack.market_data`` (:func:`local_configs.market_data_section`)."""
        return configs.market_data_section(self.settings)


async def _gather_cancelling(*aws: Any) -> list[Any]:
    """Run concurrently; the first failure cancels the rest (what they spawned is already tracked)."""
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(aw) for aw in aws]
    return [task.result() for task in tasks]
