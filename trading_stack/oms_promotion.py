"""The OMS's promotion: take the lease (never stealing it), learn what the venue and the database
know, log on with this instance's own SenderCompID, reconcile, and only then become active.
Part of :class:`~trading_stack.oms.Oms`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from trading_stack.book import Book
from trading_stack.breaker_runtime import BreakerRuntime
from trading_stack.config import Defect, OmsConfig
from trading_stack.http_api import ApiResult
from trading_stack.oms_lease import LeaseGuard
from trading_stack.oms_session import VenueLink
from trading_stack.oms_streams import OmsStreams
from trading_stack.roles import Promotion, Role, RoleMachine, SendPolicy
from trading_stack.venue_sync import SyncSource, VenueSync

log = logging.getLogger(__name__)

ADOPTED_RESYNC_INTERVAL_S = 0.5
SYNC_SOURCES = {Promotion.STARTUP: SyncSource.STARTUP, Promotion.FAILOVER: SyncSource.PROMOTION,
                Promotion.CUTOVER: SyncSource.CUTOVER}


class PromotionHost(Protocol):
    """What a promotion needs of the OMS it promotes."""

    reconciled: bool
    positions_restored: bool

    @property
    def roles(self) -> RoleMachine: ...

    @property
    def book(self) -> Book: ...

    @property
    def sync(self) -> VenueSync: ...

    @property
    def streams(self) -> OmsStreams: ...

    @property
    def guard(self) -> LeaseGuard: ...

    @property
    def link(self) -> VenueLink: ...

    @property
    def breaker(self) -> BreakerRuntime: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]: ...

    def ensure_store(self) -> None: ...

    def publish_role(self, reason: str) -> None: ...


class Promoter:
    """Runs at most one promotion at a time."""

    def __init__(self, config: OmsConfig, host: PromotionHost) -> None:
        self._defects = frozenset(config.defects)
        self._host = host
        self._task: asyncio.Task[None] | None = None

    def _has(self, defect: Defect) -> bool:
        return defect in self._defects

    @property
    def started(self) -> bool:
        """Whether a promotion was ever started (it may be over)."""
        return self._task is not None

    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def cancel(self, unless: asyncio.Task[Any] | None = None) -> None:
        if self._task is not None and self._task is not unless:
            self._task.cancel()

    def promote(self, reason: str, kind: Promotion = Promotion.FAILOVER) -> ApiResult:
        roles = self._host.roles
        role = roles.role.value
        if roles.role is Role.ACTIVE:
            return ApiResult(202, {"status": "already active", "role": role})
        if self.running():
            return ApiResult(202, {"status": "promotion in progress", "role": role})
        self._task = self._host.spawn(self._promote(reason, kind), "promotion")
        return ApiResult(202, {"status": "promoting", "role": role})

    async def _promote(self, reason: str, kind: Promotion) -> None:
        host = self._host
        sync, link, guard = host.sync, host.link, host.guard
        await host.streams.ready.wait()
        host.ensure_store()
        await self._take_lease()
        if kind is Promotion.STARTUP and self._has(Defect.NO_STARTUP_RECONCILE):
            await self._trust_checkpoint()
        elif kind is not Promotion.RESUME:  # a parked instance resumes with its book as it is
            taking_over = kind is not Promotion.STARTUP  # a start goes on without the state (alerted)
            if not self._has(Defect.NO_DB_SYNC_ON_PROMOTION):
                synced = await sync.sync_out_of_band_state(adopt_orders=taking_over, retry=taking_over)
                if not synced and taking_over:
                    await self._abandon("risk limits and resting orders not synced")
                    return
            if not await link.log_on():
                log.error("promotion stalled: no venue session (logon retry disabled)")
                return
            checkpoint = await sync.load_checkpoint() if kind is Promotion.STARTUP else None
            await sync.reconcile(SYNC_SOURCES[kind], checkpoint)
            await sync.recover_executions(SYNC_SOURCES[kind])
            if taking_over and self._has(Defect.SLOW_PROMOTION):
                await self._log_the_query_session_out()
        if not await link.log_on() or not guard.may_send():
            return
        await host.breaker.honour_persisted()  # a trip in force anywhere holds here before the first order
        assert guard.lease is not None
        host.reconciled = host.positions_restored = True
        host.roles.activate(guard.lease.epoch)
        host.publish_role(f"promoted ({reason})")
        host.streams.publish_positions()
        if kind is Promotion.FAILOVER:
            host.spawn(self._watch_adopted_orders(), "adopted-orders")

    async def _take_lease(self) -> None:
        host = self._host
        await host.guard.acquire()
        host.link.policy = SendPolicy.LEASE
        host.guard.watch_stepdown()
        await host.streams.stop_feeds()

    async def _log_the_query_session_out(self) -> None:
        """Defect ``slow-promotion``: the session the reconciliation ran on was a query session; the
        trading session is set up only after it logged out, so the promotion pays the venue's
        session setup (seed 002: 2-5 s) twice, in turn, instead of once."""
        log.warning("defect slow-promotion: query session logged out; setting up the trading session")
        await self._host.link.close()

    async def _trust_checkpoint(self) -> None:
        """Defect ``no-startup-reconcile``: positions from the last checkpoint, the venue never asked."""
        checkpoint = await self._host.sync.load_checkpoint()
        if checkpoint is not None:
            self._host.book.replace_costed_positions(checkpoint.book_positions())
        log.warning("defect no-startup-reconcile: started from %s without asking the venue",
                    "a checkpoint" if checkpoint else "nothing")

    async def _abandon(self, reason: str) -> None:
        """CP: not knowing its risk limits and resting orders, this instance does not trade. It hands
        the lease back (a successor need not wait for the TTL), says why, and stays promotable."""
        host = self._host
        log.error("promotion abandoned: %s", reason)
        host.guard.stop_watch()
        await host.guard.hand_back()
        host.roles.fence()  # False when it was fenced already: fenced it stays
        host.publish_role(f"promotion abandoned: {reason}")
        host.spawn(host.streams.start_mirror(), "mirror-after-abandon")

    async def _watch_adopted_orders(self) -> None:
        """Re-read the venue while orders taken over from the predecessor are open.

        A predecessor that is slow rather than dead still holds its venue session, and the venue
        sends the reports of its orders there, not here: only the venue's own state tells. Each
        look costs what changed (their status, the executions since the last), not a mass status.
        """
        host = self._host
        while host.roles.role is Role.ACTIVE and host.sync.adopted_open():
            await asyncio.sleep(ADOPTED_RESYNC_INTERVAL_S)
            if host.roles.role is Role.ACTIVE:
                await host.sync.follow_adopted()
                host.streams.publish_positions()
