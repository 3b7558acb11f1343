"""The reference stack as a compose project (``compose/``), one per run: a free port block, the run's
seed and defects, then graded exactly like a stack reached through a target file.

``async with ComposeStack(settings)`` brings the project up under ``gd-<run id>`` and waits for its
healthchecks, records it for the reaper, then attaches (an active, deep-healthy OMS; the NATS
recorder). Leaving the block keeps every service's log in the run's ``stack/compose.log`` and takes
the project down with its volumes, whatever happened.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from gameday.scenario.presets import StackPreset, topology
from gameday.stack.compose import ComposeProject, docker_env, project_name
from gameday.stack.errors import StackError
from gameday.stack.external import ExternalStack
from gameday.stack.settings import StackSettings
from gameday.target_file import TargetFile

__all__ = ["COMPOSE_DIR", "ComposeStack", "compose_target"]

COMPOSE_DIR = Path(__file__).resolve().parents[1] / "compose"
PROFILES = {StackPreset.ACTIVE_PASSIVE: "active-passive", StackPreset.BLUE_GREEN: "blue-green"}
OFFICIAL_NATS_IMAGE = "nats:2-alpine"
OFFLINE_ENV = "GAMEDAY_COMPOSE_OFFLINE"
PORTS = {"toxiproxy": 0, "nats": 1, "postgres": 3, "postgres-replica": 4, "exchange-admin": 6,
         "oms-primary": 10, "oms-dr": 11, "oms-blue": 12, "oms-green": 13, "front-door": 22, "deployer": 23}
"""Each service's port in a block of 100 (compose/docker-compose.yml's header)."""
PREFIXES = range(150, 200)
UNWIRED_SECTIONS = ("schedule", "breaker", "clock", "venue", "oms", "market_data")
"""A scenario's deployment sections the compose files do not take yet (``deploy`` they do)."""
DEFAULT_DB_PASSWORD = "gameday"
"""The compose files' default ``GAMEDAY_DB_PASSWORD`` (a project started by hand); each run sets its own."""


def _deploy_settings(settings: StackSettings) -> dict[str, Any]:
    """The deployer's settings: the scenario's ``stack.deploy`` with the preset's blue and green."""
    deploy = getattr(settings.deployment, "deploy", None)
    chosen = {} if deploy is None else deploy.model_dump(mode="json", exclude={"blue", "green"})
    return {**chosen, "blue": "oms-blue", "green": "oms-green"}


def _port(prefix: int, service: str) -> int:
    return prefix * 100 + PORTS[service]


def _free(prefix: int) -> bool:
    for offset in (*PORTS.values(), 40, 60):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", prefix * 100 + offset))
            except OSError:
                return False
    return True


def free_prefix(seed: str) -> int:
    """A port block none of whose main ports is taken, tried in an order the run id decides."""
    order = list(PREFIXES)
    random.Random(seed).shuffle(order)
    for prefix in order:
        if _free(prefix):
            return prefix
    raise StackError(f"no free port block among {PREFIXES.start}00-{PREFIXES.stop - 1}99 on 127.0.0.1")


def offline() -> bool:
    """compose/offline.yml (the project image for NATS, Postgres and Toxiproxy; host network) unless
    told otherwise, or unless the official images are already there."""
    chosen = os.environ.get(OFFLINE_ENV)
    if chosen is not None:
        return chosen != "0"
    import docker
    from docker.errors import DockerException

    try:
        docker.DockerClient(base_url=docker_env().get("DOCKER_HOST")).images.get(OFFICIAL_NATS_IMAGE)
    except DockerException:
        return True
    return False


def compose_target(preset: StackPreset, project: str, prefix: int, admin_token: str,
                   password: str = DEFAULT_DB_PASSWORD) -> TargetFile:
    """The target file that reaches the project: its ports, its proxies (named as the hops), its
    containers (``<project>-<service>-1``) and its database password (``GAMEDAY_DB_PASSWORD``)."""
    shape = topology(preset)
    url = "http://127.0.0.1:{}".format
    return TargetFile.model_validate({
        "name": f"compose {project}",
        "oms": {"instances": {name: url(_port(prefix, name)) for name in shape.oms_instances},
                "admin_token": admin_token},
        "venue": {"admin_url": url(_port(prefix, "exchange-admin")), "admin_token": admin_token},
        "nats": {"url": f"nats://127.0.0.1:{_port(prefix, 'nats')}"},
        "database": {"dsn": f"postgresql://postgres:{password}@127.0.0.1:{_port(prefix, 'postgres')},"
                            f"127.0.0.1:{_port(prefix, 'postgres-replica')}/postgres"
                            f"?target_session_attrs=read-write"},
        "toxiproxy": {"url": url(_port(prefix, "toxiproxy")),
                      "proxies": {hop: hop for hop in shape.hop_names}},
        "services": {service: {"container": f"{project}-{service}-1"} for service in shape.services},
    })


class ComposeStack(ExternalStack):
    def __init__(self, settings: StackSettings) -> None:
        profile = PROFILES.get(settings.preset)
        if profile is None:
            raise StackError(f"the compose backend runs presets {', '.join(PROFILES)}, not {settings.preset}")
        unwired = [key for key in UNWIRED_SECTIONS if getattr(settings.deployment, key, None) is not None]
        if unwired:
            raise StackError(f"the compose backend does not wire stack.{', stack.'.join(unwired)} yet; "
                             f"run this scenario on the embedded backend")
        run = settings.run_dir
        self.project_name, self.prefix = project_name(run.run_id), free_prefix(run.run_id)
        files = (COMPOSE_DIR / "docker-compose.yml", *((COMPOSE_DIR / "offline.yml",) if offline() else ()))
        self.project = ComposeProject(files, self.project_name, {
            "GAMEDAY_PORT_PREFIX": str(self.prefix), "GAMEDAY_SEED": str(settings.seed),
            "GAMEDAY_DEFECTS": json.dumps(list(settings.defects)),
            "GAMEDAY_ADMIN_TOKEN": settings.admin_token, "COMPOSE_PROFILES": profile,
            "GAMEDAY_DB_PASSWORD": settings.database_password,
            "GAMEDAY_DEPLOY": json.dumps(_deploy_settings(settings))},
            (profile,), logs_dir=run.stack)
        target = compose_target(settings.preset, self.project_name, self.prefix, settings.admin_token,
                                settings.database_password)
        super().__init__(target, settings)
        if settings.preset is StackPreset.BLUE_GREEN:
            self.endpoints.front_door = f"http://127.0.0.1:{_port(self.prefix, 'front-door')}"
            self.endpoints.deployer = f"http://127.0.0.1:{_port(self.prefix, 'deployer')}"
        self._record: Path | None = None
        self.up_in_s: float | None = None

    async def __aenter__(self) -> Self:
        run = self.settings.run_dir
        run.create()
        self._record = self.project.record(run.reports_root)
        began = time.monotonic()
        try:
            await self.project.up(timeout_s=max(self.settings.start_timeout_s, 180.0))
            self.up_in_s = time.monotonic() - began
            await super().__aenter__()
        except BaseException:
            await self._take_down()
            raise
        self.started_in_s = time.monotonic() - began
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            await self._take_down()

    async def _take_down(self) -> None:
        try:
            await self.project.save_logs()
        except (StackError, OSError, TimeoutError):
            pass  # the logs are worth having, not worth leaving the project up for
        await self.project.down()
        if self._record is not None:
            self._record.unlink(missing_ok=True)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "backend": "compose", "project": self.project_name,
                "port_prefix": self.prefix, "compose_files": [str(f) for f in self.project.files],
                "compose_up_s": self.up_in_s}
