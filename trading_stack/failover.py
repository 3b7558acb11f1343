"""The failover daemon: ``python -m trading_stack.failover --config failover.json``.

Probes the primary's deep health from every vantage URL, confirms failure per
``FailoverDetector``, then POSTs ``/admin/promote`` to the DR (retrying until 202) and keeps
watching. Every decision change is published on ``<prefix>.failover``, and the current state
once a second as a heartbeat (``"heartbeat": true``), so a quiet run has evidence too.

Nobody waits forever: after a failover, when no candidate instance has said it is active for
``confirmation_count`` checks in a row (the promoted one fenced itself, say), the first
candidate that says it is promotable is promoted again (``LeaderlessWatch``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from nats.aio.client import Client as NatsClient

from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.config import Defect, FailoverConfig
from trading_stack.events import connect_nats
from trading_stack.failover_logic import Decision, FailoverDetector, LeaderlessWatch, Verdict
from trading_stack.failover_telemetry import DaemonTelemetry
from trading_stack.runtime import announce_ready, run_daemon, service_main, status_app

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 1.0
NAME_CHECK_EVERY = 10  # checks between two askings of the instances' names while one is unknown


def admin_base(url: str) -> str:
    """``scheme://host:port`` of a URL (an instance's admin API, from its health URL)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def read_role(session: aiohttp.ClientSession, admin_url: str,
                    timeout_s: float) -> dict[str, Any] | None:
    """A candidate's ``GET /role`` (None when it does not answer in time)."""
    try:
        async with asyncio.timeout(timeout_s):
            async with session.get(admin_url.rstrip("/") + "/role") as response:
                if response.status != 200:
                    return None
                body = await response.json()
                return body if isinstance(body, dict) else None
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
        return None


async def probe(session: aiohttp.ClientSession, url: str, timeout_s: float) -> bool:
    """One deep-health check: 200 within the timeout, else failed."""
    try:
        async with asyncio.timeout(timeout_s):
            async with session.get(url, headers={"X-Health-Check": "failover-daemon"}) as response:
                await response.read()
                return response.status == 200
    except (TimeoutError, aiohttp.ClientError, OSError):
        return False


class FailoverDaemon:
    def __init__(self, config: FailoverConfig, clock: MonotonicNs = monotonic_ns) -> None:
        self.config = config
        self._clock = clock
        defects = frozenset(config.defects)
        self.detector = FailoverDetector(
            len(config.primary_health_urls),
            config.confirmation_count,
            any_vantage=Defect.SINGLE_VANTAGE_HEALTH in defects,
            promotion_enabled=Defect.NO_PROMOTION not in defects,
        )
        self.state = Decision.HEALTHY
        self.checks = 0
        self.decisions: deque[dict[str, Any]] = deque(maxlen=100)
        self._nc: NatsClient | None = None
        self._promotion: asyncio.Task[None] | None = None
        self._promotions = 0
        self._repromote = Defect.NO_REPROMOTION not in defects
        self._candidates = config.candidate_admin_urls or (config.dr_admin_url,)
        self.leaderless = LeaderlessWatch(len(self._candidates), config.confirmation_count)
        self._last_heartbeat = 0.0
        self._connected = asyncio.Event()
        self._names: dict[str, str] = {}  # admin URL -> the instance's name, once it said it
        self._naming: asyncio.Task[None] | None = None
        self._active_url: str | None = admin_base(config.primary_health_urls[0])
        self.telemetry = DaemonTelemetry(self._considered_active)

    def _instance_urls(self) -> list[str]:
        """The admin URL of every instance this daemon knows: the primary's, then the candidates'."""
        primary = admin_base(self.config.primary_health_urls[0])
        return list(dict.fromkeys((primary, *(url.rstrip("/") for url in self._candidates))))

    def _considered_active(self) -> dict[str, bool]:
        """Each instance (by name once it said it, else by URL) -> whether this daemon thinks it active."""
        return {self._names.get(url, url): url == self._active_url for url in self._instance_urls()}

    async def _learn_names(self, session: aiohttp.ClientSession) -> None:
        """The name of each instance (its ``/role``), asked of those that have not said it yet."""
        unnamed = [url for url in self._instance_urls() if url not in self._names]
        timeout_s = self.config.health_timeout_s
        roles = await asyncio.gather(*(read_role(session, url, timeout_s) for url in unnamed))
        for url, role in zip(unnamed, roles, strict=True):
            if role is not None and isinstance(role.get("instance"), str):
                self._names[url] = role["instance"]

    # -- NATS --------------------------------------------------------------------------
    async def _connect(self) -> None:
        self._nc = await connect_nats(self.config.nats_url, name=f"failover-{self.config.daemon_id}")
        self._connected.set()

    async def _publish(self, verdict: Verdict, heartbeat: bool = False) -> None:
        event = {
            "daemon": self.config.daemon_id,
            "decision": verdict.decision.value,
            "detail": {
                "reason": verdict.reason,
                "failures": list(verdict.failures),
                "vantages": list(self.config.primary_health_urls),
            },
            "heartbeat": heartbeat,
            "promotions": self._promotions,
            "t_ns": self._clock(),
        }
        if not heartbeat:
            self.decisions.append(event)
            self.telemetry.decided(verdict, {"promotions": self._promotions})
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.publish(f"{self.config.subject_prefix}.failover", json.dumps(event).encode())

    async def _announce_start(self) -> None:
        """The first decision, once NATS is connected (it connects while the checks already run)."""
        await self._connected.wait()
        await self._publish(Verdict(self.state, self.detector.failures, "daemon started"))

    # -- loop --------------------------------------------------------------------------
    async def _tick(self, session: aiohttp.ClientSession) -> None:
        results = await asyncio.gather(
            *(probe(session, url, self.config.health_timeout_s) for url in self.config.primary_health_urls)
        )
        self.checks += 1
        if self.checks % NAME_CHECK_EVERY == 1 and len(self._names) < len(self._instance_urls()) \
                and (self._naming is None or self._naming.done()):  # beside the checks: never delays one
            self._naming = asyncio.create_task(self._learn_names(session), name="learn-names")
        await self._apply(self.detector.observe(results), session)
        if self._repromote and self.detector.confirmed and self._promotion is not None \
                and self._promotion.done():
            await self._watch_for_no_leader(session)
        now = asyncio.get_running_loop().time()
        if now - self._last_heartbeat >= HEARTBEAT_INTERVAL_S:
            self._last_heartbeat = now
            await self._publish(Verdict(self.state, self.detector.failures, "heartbeat"), heartbeat=True)

    async def _watch_for_no_leader(self, session: aiohttp.ClientSession) -> None:
        roles = await asyncio.gather(
            *(read_role(session, url, self.config.health_timeout_s) for url in self._candidates)
        )
        choice = self.leaderless.observe(roles)
        if choice is None:
            return
        url = self._candidates[choice]
        chosen = roles[choice] or {}
        reason = (f"no instance active for {self.config.confirmation_count} consecutive checks; "
                  f"promoting {chosen.get('instance', url)}")
        self._active_url = None
        await self._publish(Verdict(Decision.PROMOTE, self.detector.failures, reason))
        self._promotion = asyncio.create_task(self._promote(session, url), name="re-promote")

    async def _apply(self, verdict: Verdict, session: aiohttp.ClientSession) -> None:
        if verdict.decision is not self.state:
            self.state = verdict.decision
            if verdict.decision in (Decision.PROMOTE, Decision.SUPPRESSED):
                self._active_url = None
            await self._publish(verdict)
        if verdict.decision is Decision.PROMOTE and self._promotion is None:
            self._promotion = asyncio.create_task(self._promote(session, self.config.dr_admin_url),
                                                  name="promote")

    async def _promote(self, session: aiohttp.ClientSession, admin_url: str) -> None:
        url = admin_url.rstrip("/") + "/admin/promote"
        headers = {"Authorization": f"Bearer {self.config.admin_token}"}
        delay = self.config.check_interval_s
        while True:
            try:
                async with asyncio.timeout(max(1.0, self.config.health_timeout_s)):
                    async with session.post(url, headers=headers) as response:
                        await response.read()
                        if response.status == 202:
                            break
                        self.telemetry.note("promote_retry", f"promote answered {response.status}; retrying",
                                            {"url": url, "status": response.status}, logging.WARNING)
            except (TimeoutError, aiohttp.ClientError, OSError) as err:
                self.telemetry.note("promote_retry", f"promote failed ({err}); retrying", {"url": url},
                                    logging.WARNING)
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)
        self.detector.promoted()
        self._promotions += 1
        self._active_url = admin_url.rstrip("/")
        self.state = Decision.PROMOTED
        await self._publish(
            Verdict(Decision.PROMOTED, self.detector.failures, f"DR accepted promotion at {url}")
        )

    async def watch(self, stop: asyncio.Event) -> None:
        interval = self.config.check_interval_s
        async with aiohttp.ClientSession() as session:
            try:
                while not stop.is_set():
                    started = asyncio.get_running_loop().time()
                    await self._tick(session)
                    elapsed = asyncio.get_running_loop().time() - started
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(max(0.0, interval - elapsed)):
                            await stop.wait()
            finally:
                for task in (self._promotion, self._naming):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task

    # -- HTTP --------------------------------------------------------------------------
    def status_body(self) -> dict[str, Any]:
        return {
            "daemon": self.config.daemon_id,
            "state": self.state.value,
            "checks": self.checks,
            "consecutive_failures": list(self.detector.failures),
            "confirmation_count": self.config.confirmation_count,
            "promotions": self._promotions,
            "leaderless_checks": self.leaderless.checks_without_leader,
            "vantages": list(self.config.primary_health_urls),
            "defects": [d.value for d in self.config.defects],
            "decisions": list(self.decisions),
        }

    def app(self) -> web.Application:
        return status_app(self.status_body, self.telemetry.registry)

    async def run(self, stop: asyncio.Event, on_ready: Callable[[int], None] = announce_ready) -> None:
        async def work() -> None:
            announce = asyncio.create_task(self._announce_start(), name="announce")
            try:
                await self.telemetry.beside(self.watch(stop))
            finally:
                announce.cancel()
                await asyncio.gather(announce, return_exceptions=True)

        await run_daemon(self.app(), self.config.host, self.config.http_port, self._connect(),
                         lambda: self._nc, work, on_ready)


def main(argv: Sequence[str] | None = None) -> int:
    return service_main(FailoverConfig, argv, "python -m trading_stack.failover", lambda c: c.daemon_id,
                        lambda config, stop: FailoverDaemon(config).run(stop))


if __name__ == "__main__":
    sys.exit(main())
