"""The ``active-passive-deploy`` preset: the failover stack with a dark launch beside it.

Everything the ``active-passive`` preset runs, started the same way (:class:`LocalStack`: the Postgres
pair and db-failover, ``oms-primary`` active, ``oms-dr`` a warm standby, the failover daemon on two
vantages), plus ``oms-green`` (dormant until the deployer launches it), the front door and the
deployer. Green gets its own proxied hops to the venue, NATS and both database hosts.

Who is who: the deployer's blue is ``oms-primary`` and its green ``oms-green``; the failover daemon
watches oms-primary and promotes oms-dr, and knows nothing of green. The front door routes to blue
and green only, so clients use ``routing: active`` (whichever instance accepts), which follows a
failover to the DR and a cutover to green alike.

When blue fails over, the deployer does not re-target the DR: its verifier compared oms-primary's
outputs, not the DR's. Its gate sees blue not alive (and, after the evidence window, no output from
blue), so no cutover; at ``verification_deadline_s`` the deploy is aborted without any action (green
stays in shadow, following the DR's fills; the DR keeps the traffic). docs/deploy.md §5.
"""

from __future__ import annotations

import time

from gameday.scenario.presets import InitialRole, StackPreset
from gameday.stack.process import ManagedProcess
from gameday.stack.services import NatsService
from reference_target.deploying import GREEN, DeployingStack
from reference_target.local import OMS_INSTANCES
from trading_stack.config import OmsConfig

__all__ = ["BLUE", "INITIAL_ROLES", "DarkLaunchStack"]

BLUE = "oms-primary"
INITIAL_ROLES = {**OMS_INSTANCES, GREEN: InitialRole.DORMANT}


class DarkLaunchStack(DeployingStack):
    """``async with DarkLaunchStack(settings) as stack:``; every OMS instance can be restarted."""

    preset = StackPreset.ACTIVE_PASSIVE_DEPLOY
    blue_instance = BLUE
    default_roles = INITIAL_ROLES

    async def _start(self) -> None:
        self.anchor_ns = time.monotonic_ns()
        await super()._start()

    async def _start_control_plane(self) -> None:
        await self._start_front_door()
        await self._start_deployer()

    async def _start_oms(self, instance: str, role: InitialRole, nats: NatsService) -> ManagedProcess:
        start_once = super()._start_oms

        async def start() -> ManagedProcess:
            process = await start_once(instance, role, nats)
            self.endpoints.oms[instance] = f"http://127.0.0.1:{process.ports['http']}"
            return process

        return await self._start_restartable(instance, start)

    def _oms_config_of(self, instance: str, role: InitialRole) -> OmsConfig:
        config = super()._oms_config_of(instance, role)
        return OmsConfig.model_validate({**config.model_dump(), **self._deployment_fields(instance)})
