"""The OMS's lease: taking it (never stealing it), handing it back, trusting it at send time, and
fencing the instance at once when it cannot trust it any more. Renewal runs on the lease keeper's
thread (:mod:`trading_stack.lease_keeper`). Part of :class:`~trading_stack.oms.Oms`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from trading_stack.clock import MonotonicNs
from trading_stack.config import Defect, OmsConfig
from trading_stack.lease import LEASE_KEY, Lease
from trading_stack.lease_keeper import LeaseKeeper
from trading_stack.oms_session import VenueLink
from trading_stack.oms_streams import OmsStreams
from trading_stack.roles import RoleMachine

log = logging.getLogger(__name__)


class PromotionTask(Protocol):
    """The promotion under way, as fencing sees it."""

    def running(self) -> bool: ...

    def cancel(self, unless: asyncio.Task[Any] | None = None) -> None: ...


class FenceHost(Protocol):
    """What the lease guard needs of the OMS it fences."""

    reconciled: bool
    positions_restored: bool

    @property
    def roles(self) -> RoleMachine: ...

    @property
    def stopping(self) -> bool: ...

    @property
    def promotion(self) -> PromotionTask: ...

    @property
    def link(self) -> VenueLink: ...

    @property
    def streams(self) -> OmsStreams: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]: ...

    def publish_role(self, reason: str) -> None: ...

    def checks(self) -> dict[str, bool]: ...

    def ready(self, checks: dict[str, bool]) -> bool: ...


class LeaseGuard:
    """The lease (None until NATS is set up), its keeper and, while it is held, the step-down watch."""

    def __init__(self, config: OmsConfig, clock: MonotonicNs, host: FenceHost) -> None:
        self._config = config
        self._clock = clock
        self._host = host
        self._no_fencing = Defect.NO_FENCING in config.defects
        self.bucket = config.lease_bucket  # a launched instance may get a bucket of its own
        self.lease: Lease | None = None
        self._keeper: LeaseKeeper | None = None
        self._stepdown: asyncio.Task[None] | None = None

    # -- the keeper ------------------------------------------------------------------------
    def start(self, kv: Any) -> None:
        config = self._config
        self.lease = Lease(kv, config.instance_id, config.lease_ttl_s, config.lease_safety_margin_s,
                           self._clock)
        self._keeper = LeaseKeeper(self.lease, config.nats_url, self.bucket, config.lease_ttl_s,
                                   config.lease_renew_interval_s, self.fence, asyncio.get_running_loop(),
                                   config.instance_id, keep_acquiring=self._no_fencing)
        self._keeper.start()

    async def stop(self) -> None:
        """Stop the keeper, then release the lease if it is still ours."""
        if self._keeper is not None:
            await self._keeper.stop()
        await self.release()

    def status(self) -> dict[str, Any]:
        keeper = self._keeper
        if keeper is None:
            return {"connected": False, "renewals": 0, "worst_renewal_ms": 0.0}
        return {"connected": keeper.connected, "renewals": keeper.renewals,
                "worst_renewal_ms": round(keeper.worst_renewal_ms, 3)}

    # -- trust -----------------------------------------------------------------------------
    def valid(self) -> bool:
        return self.lease is not None and self.lease.valid()

    def trusted(self) -> bool:
        """Whether this instance may send now (defect ``no-fencing``: always)."""
        return self._no_fencing or self.valid()

    def may_send(self) -> bool:
        """The gate in front of every message to the venue: is the lease still trusted?"""
        if self.trusted():
            return True
        self.fence("lease not trusted at send time")
        return False

    def fence(self, reason: str) -> None:
        host = self._host
        if self._no_fencing or host.stopping:
            log.warning(
                "would fence (%s) but %s", reason, "defect no-fencing" if not host.stopping else "stopping"
            )
            return
        if not host.roles.fence():
            return
        current = asyncio.current_task()
        host.promotion.cancel(unless=current)
        self.stop_watch(unless=current)
        host.link.abort()
        if self.lease is not None:
            self.lease.release_local()
        host.reconciled = False
        host.positions_restored = False
        host.publish_role(f"fenced: {reason}")
        host.spawn(host.streams.start_mirror(), "mirror-after-fence")

    # -- taking and handing back -----------------------------------------------------------
    async def acquire(self) -> None:
        """Wait until the lease is ours; asks a holder to step down, never steals it."""
        lease = self.lease
        assert lease is not None
        waited = False
        while True:
            try:
                if await lease.try_acquire() or self._no_fencing:
                    return
                await lease.request_stepdown()
            except Exception as err:
                log.warning("lease acquire attempt failed: %s", err)
            if not waited:
                holder = None
                with contextlib.suppress(Exception):
                    holder = await lease.current_holder()
                log.info("lease held by %s; waiting for it to expire", holder)
                waited = True
            await asyncio.sleep(min(0.1, self._config.lease_renew_interval_s))

    async def release(self) -> None:
        """On a clean stop, delete our own key (only our revision) so a successor need not wait."""
        lease = self.lease
        if lease is None or not lease.valid():
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await lease.release()
            log.info("lease %s released", LEASE_KEY)

    async def hand_back(self) -> None:
        """Release the lease and stop trusting it here (the instance stays up)."""
        await self.release()
        if self.lease is not None:
            self.lease.release_local()

    # -- step-down -------------------------------------------------------------------------
    def watch_stepdown(self) -> None:
        self._stepdown = self._host.spawn(self._watch_stepdown(), "lease-stepdown")

    def stop_watch(self, unless: asyncio.Task[Any] | None = None) -> None:
        if self._stepdown is not None and self._stepdown is not unless:
            self._stepdown.cancel()

    async def _watch_stepdown(self) -> None:
        """While active: hand the lease over when a DR asks and this instance cannot trade."""
        lease = self.lease
        assert lease is not None
        while True:
            await asyncio.sleep(self._config.lease_renew_interval_s)
            if lease.held and await self._step_down_if_asked(lease):
                return

    async def _step_down_if_asked(self, lease: Lease) -> bool:
        """Release the lease when a DR asks for it while this instance cannot trade.

        The failover daemon promotes the DR only after every vantage saw this instance's
        deep health fail; if it still is not ready (e.g. its venue session is cut) it hands
        over instead of holding a lease it cannot use. A ready instance keeps the lease.
        """
        host = self._host
        if self._no_fencing or host.promotion.running():
            return False
        try:
            requester = await lease.stepdown_requester()
        except Exception:
            return False
        if requester is None or requester == self._config.instance_id or host.ready(host.checks()):
            return False
        with contextlib.suppress(Exception):
            await lease.release()
        self.fence(f"stepped down for {requester}: not ready to trade")
        return True
