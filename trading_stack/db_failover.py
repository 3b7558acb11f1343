"""The database failover daemon: ``python -m trading_stack.db_failover --config db-failover.json``.

Every ``check_interval_s`` it asks the primary ``SELECT pg_is_in_recovery()`` (a check that
does not answer ``false`` within ``timeout_s`` failed); after ``confirmation_count``
consecutive failures it promotes the streaming replica (``SELECT pg_promote()``, retried until
the replica is out of recovery). Clients follow on their own: their multi-host DSN with
``target_session_attrs=read-write`` lands on the promoted replica. Every decision change is
published on ``<prefix>.failover`` (``daemon``, ``decision``, ``detail``, ``t_ns``) like the OMS
failover daemon's, so the harness records the promotion instant.

An old primary that answers again after the promotion (it was paused, not dead) is fenced: it
is made read-only by default and its client sessions are ended, so clients reconnect and land on
the new primary instead of writing to a server nothing replicates any more.
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

import asyncpg
from aiohttp import web
from nats.aio.client import Client as NatsClient

from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.config import DbFailoverConfig
from trading_stack.events import connect_nats
from trading_stack.failover_logic import Decision, FailoverDetector, Verdict
from trading_stack.failover_telemetry import DaemonTelemetry
from trading_stack.runtime import announce_ready, run_daemon, service_main, status_app

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 1.0

FENCE = (
    "ALTER SYSTEM SET default_transaction_read_only = on",
    "SELECT pg_reload_conf()",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
)


def server_of(dsn: str) -> str:
    """``host:port`` of a DSN, for logs and events (never the credentials)."""
    return dsn.split("@", 1)[-1].split("/", 1)[0]


class DbFailoverDaemon:
    def __init__(self, config: DbFailoverConfig, clock: MonotonicNs = monotonic_ns) -> None:
        self.config = config
        self._clock = clock
        self.detector = FailoverDetector(1, config.confirmation_count)
        self.state = Decision.HEALTHY
        self.checks = 0
        self._last_heartbeat = 0.0
        self.decisions: deque[dict[str, Any]] = deque(maxlen=100)
        self.fenced_ns: int | None = None
        self._primary: Any = None  # an open asyncpg connection to the primary, reused across checks
        self._nc: NatsClient | None = None
        self._promotion: asyncio.Task[None] | None = None
        self.telemetry = DaemonTelemetry(self._considered_active)

    def _considered_active(self) -> dict[str, bool]:
        """The primary until a failover is confirmed, none while it runs, the replica once promoted."""
        primary, replica = server_of(self.config.primary_dsn), server_of(self.config.replica_dsn)
        confirmed = self.state in (Decision.PROMOTE, Decision.PROMOTED, Decision.SUPPRESSED)
        return {primary: not confirmed, replica: self.state is Decision.PROMOTED}

    # -- checks ------------------------------------------------------------------------
    async def check_primary(self) -> bool:
        """The primary answers within the timeout and is not in recovery."""
        try:
            async with asyncio.timeout(self.config.timeout_s):
                if self._primary is None:
                    self._primary = await asyncpg.connect(self.config.primary_dsn)
                return await self._primary.fetchval("SELECT pg_is_in_recovery()") is False
        except Exception as err:  # any failure of the check is a failed check
            if self.state is not Decision.PROMOTED:
                log.warning("primary check failed: %s", f"{type(err).__name__}: {err}")
            self._drop_primary()
            return False

    def _drop_primary(self) -> None:
        connection, self._primary = self._primary, None
        if connection is not None:
            connection.terminate()

    async def _promote_once(self) -> bool:
        """One ``pg_promote()`` on the replica; true once the replica is out of recovery."""
        timeout_s = self.config.promote_wait_s + self.config.timeout_s
        async with asyncio.timeout(timeout_s):
            connection = await asyncpg.connect(self.config.replica_dsn)
            try:
                if not await connection.fetchval("SELECT pg_is_in_recovery()"):
                    return True
                return bool(await connection.fetchval("SELECT pg_promote(true, $1)",
                                                      self.config.promote_wait_s))
            finally:
                await connection.close()

    async def promote(self) -> None:
        started = self._clock()
        while True:
            try:
                if await self._promote_once():
                    break
                log.warning("pg_promote() did not finish in %ds; retrying", self.config.promote_wait_s)
            except Exception as err:  # the replica may be briefly unreachable: retry
                log.warning("promotion failed (%s); retrying", f"{type(err).__name__}: {err}")
            await asyncio.sleep(self.config.check_interval_s)
        self.detector.promoted()
        self.state = Decision.PROMOTED
        took_ms = round((self._clock() - started) / 1e6, 3)
        await self._publish(Verdict(Decision.PROMOTED, self.detector.failures,
                                    f"replica {server_of(self.config.replica_dsn)} promoted"),
                            promote_took_ms=took_ms)

    async def fence_old_primary(self) -> None:
        """Make the answering old primary read-only and end its client sessions (idempotent)."""
        try:
            async with asyncio.timeout(self.config.timeout_s):
                if await self._primary.fetchval("SHOW default_transaction_read_only") == "on":
                    return
                for statement in FENCE:
                    await self._primary.execute(statement)
        except Exception as err:  # it may die again half way: fence on the next check
            log.warning("fencing the old primary failed: %s", f"{type(err).__name__}: {err}")
            self._drop_primary()
            return
        self.fenced_ns = self._clock()
        old_primary = server_of(self.config.primary_dsn)
        self.telemetry.note("fence", f"the old primary {old_primary} answered after the promotion: fenced "
                            "(read-only, sessions ended)", {"server": old_primary}, logging.WARNING)

    # -- NATS --------------------------------------------------------------------------
    async def _connect_nats(self) -> None:
        self._nc = await connect_nats(self.config.nats_url, name=self.config.daemon_id)

    async def _publish(self, verdict: Verdict, heartbeat: bool = False, **detail: Any) -> None:
        event = {
            "daemon": self.config.daemon_id,
            "decision": verdict.decision.value,
            "detail": {"reason": verdict.reason, "failures": list(verdict.failures),
                       "vantages": [server_of(self.config.primary_dsn)],
                       "replica": server_of(self.config.replica_dsn), **detail},
            "heartbeat": heartbeat,
            "t_ns": self._clock(),
        }
        if not heartbeat:
            self.decisions.append(event)
            self.telemetry.decided(verdict, detail)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.publish(f"{self.config.subject_prefix}.failover", json.dumps(event).encode())

    # -- loop --------------------------------------------------------------------------
    async def tick(self) -> None:
        healthy = await self.check_primary()
        self.checks += 1
        now = asyncio.get_running_loop().time()
        if now - self._last_heartbeat >= HEARTBEAT_INTERVAL_S:  # "still here, in this state"
            self._last_heartbeat = now
            await self._publish(Verdict(self.state, self.detector.failures, "heartbeat"), heartbeat=True)
        if self.state is Decision.PROMOTED:
            if healthy:
                await self.fence_old_primary()
            return
        verdict = self.detector.observe([healthy])
        if verdict.decision is not self.state:
            self.state = verdict.decision
            await self._publish(verdict)
        if verdict.decision is Decision.PROMOTE and self._promotion is None:
            self._promotion = asyncio.create_task(self.promote(), name="promote")

    async def watch(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                next_check = loop.time() + self.config.check_interval_s
                await self.tick()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(next_check):
                        await stop.wait()
        finally:
            self._drop_primary()
            if self._promotion is not None:
                self._promotion.cancel()
                await asyncio.gather(self._promotion, return_exceptions=True)

    # -- HTTP --------------------------------------------------------------------------
    def status_body(self) -> dict[str, Any]:
        return {
            "daemon": self.config.daemon_id,
            "state": self.state.value,
            "checks": self.checks,
            "consecutive_failures": self.detector.failures[0],
            "confirmation_count": self.config.confirmation_count,
            "primary": server_of(self.config.primary_dsn),
            "replica": server_of(self.config.replica_dsn),
            "old_primary_fenced_ns": self.fenced_ns,
            "decisions": list(self.decisions),
        }

    def app(self) -> web.Application:
        return status_app(self.status_body, self.telemetry.registry)

    async def run(self, stop: asyncio.Event, on_ready: Callable[[int], None] = announce_ready) -> None:
        await run_daemon(self.app(), self.config.host, self.config.http_port, self._connect_nats(),
                         lambda: self._nc, lambda: self.telemetry.beside(self.watch(stop)), on_ready)


def main(argv: Sequence[str] | None = None) -> int:
    return service_main(DbFailoverConfig, argv, "python -m trading_stack.db_failover", lambda c: c.daemon_id,
                        lambda config, stop: DbFailoverDaemon(config).run(stop))


if __name__ == "__main__":
    sys.exit(main())
