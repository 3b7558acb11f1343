"""A stack the user already runs, reached through a target file: nothing of it is started or stopped.

``async with ExternalStack(target, settings)`` opens a session, enters the NATS observers when the
target names NATS, starts our venue when the file asks the harness to run it (``venue.run``:
:mod:`gameday.stack.run_venue`, stopped when the block ends), and waits (bounded) until one OMS
instance answers deep health as ``active``.
Its ``endpoints.oms`` carry the target's OMS API (``oms.adapter``, else the contract's): everything
that reaches the instances speaks through it.
Leaving the block heals nothing itself (the nemesis heals every fault it applied) and deletes no
proxy: the proxies in the target file are the user's.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import replace
from signal import Signals
from types import TracebackType
from typing import Any, Self

import aiohttp

from gameday.faults.toxiproxy_client import ToxiproxyClient
from gameday.probes import sample_until_active
from gameday.scenario.faults import ExchangeFaultKind
from gameday.stack.errors import StackError
from gameday.stack.protocol import NatsObserver
from gameday.stack.run_venue import RunVenue
from gameday.stack.service_doors import ServiceDoor, door_for
from gameday.stack.settings import StackEndpoints, StackSettings
from gameday.stack.venue_faults import heal_exchange_fault, put_exchange_fault
from gameday.target_file import TargetFile

__all__ = ["ExternalStack", "admin_token_of", "toxiproxy_token_of", "venue_admin_token_of"]


def admin_token_of(target: TargetFile, environ: Mapping[str, str]) -> str | None:
    """The OMS admin token: ``oms.admin_token_env``'s variable, else ``oms.admin_token``."""
    return _token_of(target, "oms", target.oms.admin_token, target.oms.admin_token_env, environ)


def venue_admin_token_of(target: TargetFile, environ: Mapping[str, str]) -> str | None:
    """The venue admin API's token: ``venue.admin_token_env``'s variable, else ``venue.admin_token``."""
    return _token_of(target, "venue", target.venue.admin_token, target.venue.admin_token_env, environ)


def toxiproxy_token_of(target: TargetFile, environ: Mapping[str, str]) -> str | None:
    """The Toxiproxy API's bearer token: ``toxiproxy.token_env``'s variable, else ``toxiproxy.token``."""
    spec = target.toxiproxy
    if spec is None or spec.token_env is None:
        return None if spec is None else spec.token
    value = environ.get(spec.token_env)
    if not value:
        raise StackError(f"target {target.name}: environment variable {spec.token_env} "
                         f"(toxiproxy.token_env) is not set")
    return value


def _token_of(target: TargetFile, section: str, token: str | None, variable: str | None,
              environ: Mapping[str, str]) -> str | None:
    if variable is None:
        return token
    value = environ.get(variable)
    if not value:
        raise StackError(f"target {target.name}: environment variable {variable} "
                         f"({section}.admin_token_env) is not set")
    return value


class ExternalStack:
    def __init__(self, target: TargetFile, settings: StackSettings, *,
                 admin_token: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        """``environ`` is where ``venue.admin_token_env`` is looked up (default: this process's)."""
        self.target = target
        self.settings = replace(settings, admin_token=admin_token) if admin_token else settings
        run = target.venue.run
        venue_token = secrets.token_urlsafe(18) if run is not None else None  # fresh per run, as embedded
        # the venue the harness runs: its admin URL is known once it serves (RunVenue.start)
        self._venue = None if run is None else RunVenue(run, self.settings, admin_token=venue_token or "")
        self.endpoints = StackEndpoints(
            oms=dict(target.oms.instances), oms_api=target.oms_api,
            venue_admin=(target.venue.admin_url or "").rstrip("/"),
            venue_admin_token=venue_token if run is not None else venue_admin_token_of(
                target, os.environ if environ is None else environ),
            nats=target.nats.url if target.nats else "",
            toxiproxy=target.toxiproxy.url if target.toxiproxy else "",
            database_dsn=target.database.dsn if target.database else "",
            deployer=target.deployer.url.rstrip("/") if target.deployer else None,
            metrics=dict(target.metrics), logs=dict(target.logs))
        self._toxiproxy_token = toxiproxy_token_of(target, os.environ if environ is None else environ)
        self.toxiproxy: ToxiproxyClient | None = None
        self.started_in_s: float | None = None
        self._doors: dict[str, ServiceDoor] = {name: door_for(name, access)
                                               for name, access in target.services.items()}
        self._observers: list[NatsObserver] = []
        self._exit = AsyncExitStack()
        self._session: aiohttp.ClientSession | None = None

    def observe_nats(self, observer: NatsObserver) -> None:
        self._observers.append(observer)

    async def __aenter__(self) -> Self:
        began = time.monotonic()
        try:
            self._session = await self._exit.enter_async_context(aiohttp.ClientSession())
            if self.target.toxiproxy is not None:
                self.toxiproxy = ToxiproxyClient(self.target.toxiproxy.url, self._session,
                                                 names=self.target.toxiproxy.proxies,
                                                 token=self._toxiproxy_token)
            if self.target.nats is not None:
                for observer in self._observers:
                    await self._exit.enter_async_context(observer(self.target.nats.url))
            if self._venue is not None:  # before the wait: the OMS may reconnect to the fresh venue first
                self.endpoints.venue_admin = await self._exit.enter_async_context(
                    self._venue.serving(self._session))
            await self._wait_for_active()
        except BaseException:
            await self._exit.aclose()
            raise
        self.started_in_s = time.monotonic() - began
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._exit.aclose()

    async def _wait_for_active(self) -> None:
        assert self._session is not None
        timeout_s = self.settings.start_timeout_s
        active, roles = await sample_until_active(self._session, self.endpoints.oms, timeout_s,
                                                  api=self.endpoints.oms_api)
        if active is not None:
            return
        seen = ", ".join(f"{name}: {sample['role']}{'' if sample['deep_ok'] else ' (not deep-healthy)'}"
                         for name, sample in roles.items())
        raise StackError(f"target {self.target.name}: no OMS instance was active and deep-healthy within "
                         f"{timeout_s:.0f}s ({seen or 'none answered'})")

    def _door(self, service: str) -> ServiceDoor:
        door = self._doors.get(service)
        if door is None:
            raise StackError(f"target {self.target.name} gives no way to reach {service!r} "
                             f"(services: {', '.join(sorted(self._doors)) or 'none'})")
        return door

    async def signal(self, service: str, sig: Signals) -> None:
        await self._door(service).signal(sig)

    async def restart(self, service: str, sig: Signals, grace_s: float) -> dict[str, Any]:
        return await self._door(service).restart(sig, grace_s)

    async def exchange_fault(self, kind: ExchangeFaultKind, params: dict[str, Any]) -> dict[str, Any]:
        assert self._session is not None
        return await put_exchange_fault(self._session, self.endpoints.venue_admin, kind, params,
                                        token=self.endpoints.venue_admin_token)

    async def heal_exchange_fault(self, kind: ExchangeFaultKind) -> None:
        assert self._session is not None
        await heal_exchange_fault(self._session, self.endpoints.venue_admin, kind,
                                  token=self.endpoints.venue_admin_token)

    def describe(self) -> dict[str, Any]:
        target = self.target
        adapter = {} if target.oms.adapter is None else {"oms_adapter": repr(target.oms_api)}
        return {
            "target": {"name": target.name, "file_capabilities": {
                "nats": target.nats is not None, "database": target.database is not None,
                "toxiproxy": target.toxiproxy is not None, "deployer": target.deployer is not None,
                "venue": "admin_url" if self._venue is None else "run",
                "services": {name: type(door).__name__ for name, door in self._doors.items()}}, **adapter},
            "services": {name: {"url": url} for name, url in target.oms.instances.items()},
            "proxies": dict(target.toxiproxy.proxies) if target.toxiproxy else {},
            **({} if self._venue is None else {"venue": self._venue.describe()}),
            "started_in_s": self.started_in_s,
        }
