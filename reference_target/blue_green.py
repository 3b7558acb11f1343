"""The ``blue-green`` preset on the local stack: a deployment game day's services (docs/deploy.md §5).

NATS, one Postgres, the fault proxy and the venue come up as in the failover preset; then
``oms-blue`` (active, the scenario's build) and ``oms-green`` (dormant until the deployer
launches it), the front-door proxy the clients send to, and the deployer
(:class:`~reference_target.deploying.DeployingStack`). Every hop between them is proxied, so a scenario
can slow green's event feed or cut green off the venue.
"""

from __future__ import annotations

import time

from gameday.probes import sample_roles
from gameday.scenario.presets import InitialRole, StackPreset
from gameday.stack.postgres import start_postgres
from gameday.stack.process import ManagedProcess, wait_until
from gameday.stack.services import start_nats
from reference_target.deploying import GREEN, DeployingStack, Starter
from reference_target.local import _gather_cancelling
from reference_target.local_configs import comp_id
from reference_target.venue_settings import oms_venue_fields
from trading_stack.config import OmsConfig

__all__ = ["BLUE", "GREEN", "INITIAL_ROLES", "BlueGreenStack"]

BLUE = "oms-blue"
INITIAL_ROLES = {BLUE: InitialRole.ACTIVE, GREEN: InitialRole.DORMANT}


class BlueGreenStack(DeployingStack):
    """``async with BlueGreenStack(settings) as stack:``; ``restart`` gives blue or green a new boot."""

    preset = StackPreset.BLUE_GREEN
    blue_instance = BLUE
    default_roles = INITIAL_ROLES

    def initial_role(self, instance: str) -> InitialRole:
        """Always the preset's: blue active, green dormant (``stack.initial_roles`` is not applied here)."""
        return INITIAL_ROLES[instance]

    async def _start(self) -> None:
        assert self._session is not None
        run = self.settings.run_dir
        template = await self._postgres_template()
        self.anchor_ns = time.monotonic_ns()
        nats, database, _, toxiproxy_url = await _gather_cancelling(
            start_nats(run.scratch / "nats", self._session, self._track),
            start_postgres(run.scratch / "pgdata", template, run.stack / "postgres.log", self._track,
                           password=self.settings.database_password),
            self._start_venue(),
            self._start_toxiproxy(),
        )
        self._infrastructure = frozenset(self.processes)
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

    def _oms_config(self, instance: str) -> OmsConfig:
        fix_host, fix_port = self.proxy_address(f"{instance}->exchange")
        nats_host, nats_port = self.proxy_address(f"{instance}->nats")
        return OmsConfig(
            instance_id=instance, initial_role=INITIAL_ROLES[instance], http_port=0,
            admin_token=self.settings.admin_token, fix_host=fix_host, fix_port=fix_port,
            fix_sender_comp_id=comp_id(instance), nats_url=f"nats://{nats_host}:{nats_port}",
            database_dsn=f"postgresql://postgres:{self.settings.database_password}"
                         f"@{self.endpoints.proxies[f'{instance}->postgres']}/postgres",
            defects=self.settings.defects, **self._deployment_fields(instance),
            **oms_venue_fields(self.settings),
        )

    def _oms_starter(self, instance: str) -> Starter:
        async def start() -> ManagedProcess:
            process = await self._start_service(instance, "trading_stack.oms", self._oms_config(instance))
            self.endpoints.oms[instance] = f"http://127.0.0.1:{process.ports['http']}"
            return process

        return start

    async def _wait_for_trading(self) -> None:
        """Ready: blue active and deep-healthy, green serving and dormant."""
        assert self._session is not None
        session = self._session

        async def trading() -> bool:
            roles = await sample_roles(session, self.endpoints.oms, api=self.endpoints.oms_api)
            blue, green = roles[BLUE], roles[GREEN]
            return blue["role"] == "active" and blue["deep_ok"] and green["role"] == "dormant"

        await wait_until("oms", trading, timeout_s=self.settings.start_timeout_s,
                         log_path=self.settings.run_dir.stack / f"{BLUE}.log")
