"""The OMS process: composition root and role state machine.

``python -m trading_stack.oms --config oms.json``. Roles: a standby mirrors the stream; a
promotion acquires the lease (never stealing it), logs on with this instance's own
SenderCompID, reconciles against the venue's mass status and only then becomes active.
An active instance that cannot trust its lease any more is fenced at once. For a deploy, a
dormant instance is launched in shadow (computing in the dark) or active; the deployer parks
and re-activates instances (docs/deploy.md §2). The HTTP API's side is :mod:`trading_stack.oms_api`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from trading_stack.book import Book
from trading_stack.breaker_runtime import BreakerRuntime
from trading_stack.checkpoints import Checkpoint, save_checkpoint
from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.config import Defect, InitialRole, OmsConfig
from trading_stack.deploy.outputs import OUTPUTS_SUBJECT, SHADOW_OUTPUTS_SUBJECT, output_for
from trading_stack.deploy.positions import Position
from trading_stack.deploy.versions import BookedFill
from trading_stack.events import EventPublisher, Mirror, connect_nats, ensure_stream
from trading_stack.fix_client import FixSession, SessionSettings, SessionState
from trading_stack.gateway import OrderGateway, PlaceResult
from trading_stack.http_api import ApiResult
from trading_stack.lease import LEASE_KEY, Lease, lease_bucket
from trading_stack.lease_keeper import LeaseKeeper
from trading_stack.loop_lag import LoopLagMonitor
from trading_stack.models import Fill, NewOrderRequest, Order, OrdType, Side
from trading_stack.risk import RiskLimits
from trading_stack.roles import Promotion, Role, RoleMachine, SendPolicy
from trading_stack.runtime import announce_ready, load_config, run_service, setup_logging, start_http
from trading_stack.shadow import ShadowFeed
from trading_stack.shutdown import drain
from trading_stack.store import STORE_ROWS_NOT_WRITTEN, Store, publish_backlog
from trading_stack.venue_sync import DB_TIMEOUT_S, SyncSource, VenueSync

log = logging.getLogger(__name__)

REPLICATION_SAMPLE_INTERVAL_S = 0.25
# an instance starting as active is a standby until its promotion is done; a shadow is dormant
# until its feed runs
INITIAL_ROLES = {InitialRole.ACTIVE: Role.STANDBY, InitialRole.STANDBY: Role.STANDBY,
                 InitialRole.SHADOW: Role.DORMANT, InitialRole.DORMANT: Role.DORMANT}
READY_CHECKS: dict[Role, tuple[str, ...]] = {
    Role.ACTIVE: ("exchange_session", "positions_restored", "reconciled", "lease", "nats"),
    Role.SHADOW: ("exchange_session", "nats", "positions_restored", "caught_up"),
    Role.PARKED: ("nats",),
}
ADOPTED_RESYNC_INTERVAL_S = 0.5
SYNC_SOURCES = {Promotion.STARTUP: SyncSource.STARTUP, Promotion.FAILOVER: SyncSource.PROMOTION,
                Promotion.CUTOVER: SyncSource.CUTOVER}


class Oms:
    """One OMS instance. ``run(stop)`` serves until ``stop`` is set, then shuts down cleanly."""

    def __init__(self, config: OmsConfig, clock: MonotonicNs = monotonic_ns, boot: int | None = None) -> None:
        self.config = config
        self.instance = config.instance_id
        self._defects = frozenset(config.defects)
        self._clock = clock
        self._boot = boot if boot is not None else time.time_ns() // 1_000_000
        self.book = Book(config.version)
        self.risk = RiskLimits()
        self.roles = RoleMachine(INITIAL_ROLES[config.initial_role])
        self._policy = SendPolicy.NONE if self.roles.role is Role.DORMANT else SendPolicy.LEASE
        self.gateway = OrderGateway(self.instance, self._boot, self.book, sink=self,
                                    ack_timeout_s=config.order_ack_timeout_s, clock=clock,
                                    app_gate=self._app_gate)
        self.store = Store(config.database_dsn, reconnect=Defect.NO_DB_RECONNECT not in self._defects)
        self.sync = VenueSync(config, self.book, self.gateway, self.risk, self.alert, self._spawn,
                              lambda: self._session)
        self.breaker = BreakerRuntime(config.breaker, self, clock, self._spawn)
        self._lease_bucket = config.lease_bucket
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._publisher: EventPublisher | None = None
        self._mirror: Mirror | None = None
        self._shadow: ShadowFeed | None = None
        self._lease: Lease | None = None
        self._keeper: LeaseKeeper | None = None
        self.loop_lag = LoopLagMonitor(self._publish_loop_lag)
        self._session: FixSession | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._promotion: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._store_task: asyncio.Task[None] | None = None
        self._stop_requested: asyncio.Event | None = None
        self._infra_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen_epoch = 0
        self.reconciled = False
        self.positions_restored = False
        self.draining = False
        self.launched = False
        self._stopping = False

    # -- small helpers -----------------------------------------------------------------
    def _has(self, defect: Defect) -> bool:
        return defect in self._defects

    @property
    def has_shallow_health(self) -> bool:
        return self._has(Defect.SHALLOW_HEALTH)

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    @property
    def epoch(self) -> int:
        if self._lease is not None and self._lease.held:
            return self._lease.epoch
        return max(self.roles.epoch, self._seen_epoch)

    def _note_epoch(self, epoch: int) -> None:
        self._seen_epoch = max(self._seen_epoch, epoch)

    def _publish_loop_lag(self, summary: Mapping[str, float | int]) -> None:
        if self._publisher is not None:
            self._publisher.loop_lag(summary)

    def _publish_role(self, reason: str) -> None:
        log.info("role %s epoch=%d (%s)", self.roles.role, self.epoch, reason)
        if self._publisher is not None:
            self._publisher.role(self.roles.role, self.epoch, reason, self.book.version.value)

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None:
        log.info("alert %s %s", alert, dict(detail))
        if self._publisher is not None:
            self._publisher.alert(alert, detail)

    def _ensure_store(self) -> None:
        if self._store_task is None:
            self._store_task = self._spawn(self.store.run(), "store")
            self._spawn(publish_backlog(self.store, lambda: self._publisher), "store-backlog")

    # -- BookSink ----------------------------------------------------------------------
    def order_changed(self, order: Order) -> None:
        self.store.save_order(order)
        if self._publisher is not None:
            self._publisher.order(order)

    def filled(self, fill: Fill, positions: dict[str, int], fill_count: int) -> None:
        self.store.save_fill(fill)
        if self._publisher is not None:
            self._publisher.fill(fill)
            self._publisher.positions(positions, fill_count)
            output = output_for(self.instance, self.book.version, fill, self.book.position(fill.symbol),
                                self._clock())
            self._publisher.output(OUTPUTS_SUBJECT, output.model_dump(mode="json"))
        if self.roles.role is Role.ACTIVE:
            self.breaker.on_fill(fill)

    def _shadow_booked(self, fill: Fill, booked: BookedFill, processed_ns: int) -> None:
        if self._publisher is not None:
            output = output_for(self.instance, self.book.version, fill, booked.position, processed_ns)
            self._publisher.output(SHADOW_OUTPUTS_SUBJECT, output.model_dump(mode="json"))

    # -- BreakerHost / DrainHost -----------------------------------------------------------
    def open_orders(self) -> list[Order]:
        return self.book.open_orders()

    def costed_positions(self) -> dict[str, Position]:
        return self.book.costed_positions()

    def order(self, order_id: str) -> Order | None:
        return self.book.get(order_id)

    @property
    def pending_requests(self) -> int:
        return self.gateway.pending_requests

    async def cancel_order(self, order: Order) -> PlaceResult:
        return await self.gateway.cancel(order)

    async def send_market(self, symbol: str, side: Side, qty: int) -> PlaceResult:
        refusal = self.refusal()
        if refusal is not None:
            return PlaceResult(refusal.status, error=str(refusal.body["error"]))
        request = NewOrderRequest(symbol=symbol, side=side, qty=qty, type=OrdType.MARKET)
        return await self.gateway.place(request)

    def publish_pnl(self, pnl: float, peak: float) -> None:
        if self._publisher is not None:
            self._publisher.pnl(pnl, peak)

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        await save_checkpoint(self.config.database_dsn, checkpoint, DB_TIMEOUT_S)
        await self.store.flush(1.0)

    # -- lifecycle ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, on_ready: Callable[[int], None] = announce_ready) -> None:
        self._stop_requested = stop
        self._spawn(self.loop_lag.run(), "loop-lag")
        from trading_stack.oms_api import OmsService  # the API adapter depends on this class

        runner, port = await start_http(OmsService(self).app(), self.config.host, self.config.http_port)
        try:
            on_ready(port)
            self._start_as(self.config.initial_role)
            await stop.wait()
        finally:
            await self._shutdown()
            await runner.cleanup()

    def request_stop(self) -> None:
        if self._stop_requested is not None:
            self._stop_requested.set()

    def _start_as(self, role: InitialRole) -> None:
        if role is InitialRole.DORMANT:
            return
        if role is not InitialRole.SHADOW:
            self._ensure_store()
        self._spawn(self._setup_infra(), "setup")
        if role is InitialRole.ACTIVE:
            self.promote("startup", Promotion.STARTUP)
        elif role is InitialRole.SHADOW:
            self._spawn(self._become_shadow(), "shadow")

    async def _setup_infra(self) -> None:
        config = self.config
        nc = await connect_nats(config.nats_url, name=f"oms-{self.instance}")
        self._nc = nc
        js = self._js = nc.jetstream(timeout=2.0)
        while True:
            try:
                await ensure_stream(js, config.stream, config.subject_prefix)
                kv = await lease_bucket(js, self._lease_bucket, config.lease_ttl_s)
                break
            except Exception as err:
                log.warning("NATS setup failed (%s); retrying", err)
                await asyncio.sleep(0.5)
        self._lease = Lease(kv, self.instance, config.lease_ttl_s, config.lease_safety_margin_s, self._clock)
        self._keeper = LeaseKeeper(self._lease, config.nats_url, self._lease_bucket, config.lease_ttl_s,
                                   config.lease_renew_interval_s, self.fence, asyncio.get_running_loop(),
                                   self.instance, keep_acquiring=self._has(Defect.NO_FENCING))
        self._keeper.start()
        self._publisher = EventPublisher(js, config.subject_prefix, self.instance, self._clock)
        self._spawn(self._publisher.run(), "publisher")
        self._mirror = Mirror(js, config.stream, config.subject_prefix, self.book, on_epoch=self._note_epoch,
                              clock=self._clock)
        self._spawn(self._sample_replication_lag(), "replication-lag")
        self._infra_ready.set()
        if self.roles.role is Role.STANDBY and self._promotion is None:
            self._publish_role("started as standby")
            await self._retry("mirror start", self._mirror.start)

    async def _retry(self, what: str, start: Callable[[], Coroutine[Any, Any, None]]) -> None:
        while not self._stopping:
            try:
                await start()
                return
            except Exception as err:
                log.warning("%s failed (%s); retrying", what, err)
                await asyncio.sleep(0.5)

    async def _sample_replication_lag(self) -> None:
        while True:
            await asyncio.sleep(REPLICATION_SAMPLE_INTERVAL_S)
            mirror, publisher = self._mirror, self._publisher
            if self.roles.role is Role.STANDBY and mirror is not None and publisher is not None \
                    and mirror.caught_up:
                publisher.replication(*mirror.take_lag_sample())

    async def _start_mirror(self) -> None:
        if self._mirror is not None:
            await self._retry("mirror start", self._mirror.start)

    async def _stop_feeds(self) -> None:
        if self._mirror is not None:
            await self._mirror.stop()
        shadow, self._shadow = self._shadow, None
        if shadow is not None:
            await shadow.stop()

    async def _shutdown(self) -> None:
        if self.roles.role is Role.ACTIVE and not self._stopping and self._lease is not None \
                and self._lease.valid():
            self.draining = True
            await self.breaker.stop()
            await drain(self, self.config.shutdown_cancel_timeout_s, self.config.shutdown_fill_wait_s,
                        self._clock)
        self._stopping = True
        await self.breaker.stop()
        for task in (self._promotion, self._renewer):
            if task is not None:
                task.cancel()
        await self._close_session()
        if self._keeper is not None:
            await self._keeper.stop()
        await self._release_lease()
        await self._stop_feeds()
        not_written = await self.store.close(1.0)
        if not_written:
            self.alert(STORE_ROWS_NOT_WRITTEN, {"rows": not_written, **self.store.backlog_stats().as_dict()})
        if self._publisher is not None:
            await self._publisher.flush(1.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._nc.close()

    async def _close_session(self) -> None:
        """Log out (when this instance may still send) or drop the session; wait for it to end."""
        session, task = self._session, self._session_task
        self._session = self._session_task = None
        self.gateway.attach(None)
        if session is not None:
            if self._policy is not SendPolicy.LEASE or self._has(Defect.NO_FENCING) \
                    or (self._lease is not None and self._lease.valid()):
                await session.close()
            else:
                session.abort()
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(2.0):
                    await task

    async def _release_lease(self) -> None:
        """On a clean stop, delete our own key (only our revision) so a successor need not wait."""
        lease = self._lease
        if lease is None or not lease.valid():
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await lease.release()
            log.info("lease %s released", LEASE_KEY)

    # -- fencing -----------------------------------------------------------------------
    def _app_gate(self, msg_type: str) -> str | None:
        """Why an application message may not go out in this role (the lease is checked after)."""
        if self._policy is SendPolicy.NONE or (self._policy is SendPolicy.QUERIES and msg_type != "AF"):
            return f"{msg_type} not sent: role {self.roles.role.value} sends no orders"
        return None

    def _session_gate(self) -> bool:
        """The FIX session's gate: session traffic always flows while application messages are
        refused by the gateway; otherwise the lease decides."""
        return self._policy is not SendPolicy.LEASE or self.may_send()

    def _on_app(self, msg: Any) -> None:
        if self._policy is not SendPolicy.NONE:  # a dormant or shadow instance learns only from the stream
            self.gateway.on_app(msg)

    def may_send(self) -> bool:
        """The gate in front of every message to the venue: is the lease still trusted?"""
        if self._has(Defect.NO_FENCING):
            return True
        if self._lease is not None and self._lease.valid():
            return True
        self.fence("lease not trusted at send time")
        return False

    def fence(self, reason: str) -> None:
        if self._has(Defect.NO_FENCING) or self._stopping:
            log.warning(
                "would fence (%s) but %s", reason, "defect no-fencing" if not self._stopping else "stopping"
            )
            return
        if not self.roles.fence():
            return
        current = asyncio.current_task()
        for task in (self._promotion, self._renewer):
            if task is not None and task is not current:
                task.cancel()
        if self._session is not None:
            self._session.abort()
        self.gateway.attach(None)
        self._session = None
        if self._lease is not None:
            self._lease.release_local()
        self.reconciled = False
        self.positions_restored = False
        self._publish_role(f"fenced: {reason}")
        self._spawn(self._start_mirror(), "mirror-after-fence")

    async def _watch_stepdown(self) -> None:
        """While active: hand the lease over when a DR asks and this instance cannot trade.

        Renewal itself runs on the lease keeper's thread (trading_stack.lease_keeper).
        """
        lease = self._lease
        assert lease is not None
        while True:
            await asyncio.sleep(self.config.lease_renew_interval_s)
            if lease.held and await self._step_down_if_asked(lease):
                return

    async def _step_down_if_asked(self, lease: Lease) -> bool:
        """Release the lease when a DR asks for it while this instance cannot trade.

        The failover daemon promotes the DR only after every vantage saw this instance's
        deep health fail; if it still is not ready (e.g. its venue session is cut) it hands
        over instead of holding a lease it cannot use. A ready instance keeps the lease.
        """
        if self._has(Defect.NO_FENCING) or (self._promotion is not None and not self._promotion.done()):
            return False
        try:
            requester = await lease.stepdown_requester()
        except Exception:
            return False
        if requester is None or requester == self.instance or self.ready(self.checks()):
            return False
        with contextlib.suppress(Exception):
            await lease.release()
        self.fence(f"stepped down for {requester}: not ready to trade")
        return True

    # -- promotion ---------------------------------------------------------------------
    def _promotion_running(self) -> bool:
        return self._promotion is not None and not self._promotion.done()

    def promote(self, reason: str, kind: Promotion = Promotion.FAILOVER) -> ApiResult:
        role = self.roles.role.value
        if self.roles.role is Role.ACTIVE:
            return ApiResult(202, {"status": "already active", "role": role})
        if self._promotion_running():
            return ApiResult(202, {"status": "promotion in progress", "role": role})
        self._promotion = self._spawn(self._promote(reason, kind), "promotion")
        return ApiResult(202, {"status": "promoting", "role": role})

    async def _promote(self, reason: str, kind: Promotion) -> None:
        await self._infra_ready.wait()
        self._ensure_store()
        await self._take_lease()
        if kind is Promotion.STARTUP and self._has(Defect.NO_STARTUP_RECONCILE):
            await self._trust_checkpoint()
        elif kind is not Promotion.RESUME:  # a parked instance resumes with its book as it is
            taking_over = kind is not Promotion.STARTUP  # a start goes on without the state (alerted)
            if not self._has(Defect.NO_DB_SYNC_ON_PROMOTION):
                synced = await self.sync.sync_out_of_band_state(adopt_orders=taking_over, retry=taking_over)
                if not synced and taking_over:
                    await self._abandon_promotion("risk limits and resting orders not synced")
                    return
            if not await self._log_on():
                log.error("promotion stalled: no venue session (logon retry disabled)")
                return
            checkpoint = await self.sync.load_checkpoint() if kind is Promotion.STARTUP else None
            await self.sync.reconcile(SYNC_SOURCES[kind], checkpoint)
            await self.sync.recover_executions(SYNC_SOURCES[kind])
        if not await self._log_on() or not self.may_send():
            return
        assert self._lease is not None
        self.reconciled = self.positions_restored = True
        self.roles.activate(self._lease.epoch)
        self._publish_role(f"promoted ({reason})")
        if self._publisher is not None:
            self._publisher.positions(self.book.positions, self.book.fill_count)
        if kind is Promotion.FAILOVER:
            self._spawn(self._watch_adopted_orders(), "adopted-orders")

    async def _abandon_promotion(self, reason: str) -> None:
        """CP: not knowing its risk limits and resting orders, this instance does not trade. It hands
        the lease back (a successor need not wait for the TTL), says why, and stays promotable."""
        log.error("promotion abandoned: %s", reason)
        if self._renewer is not None:
            self._renewer.cancel()
        await self._release_lease()
        if self._lease is not None:
            self._lease.release_local()
        self.roles.fence()  # False when it was fenced already: fenced it stays
        self._publish_role(f"promotion abandoned: {reason}")
        self._spawn(self._start_mirror(), "mirror-after-abandon")

    async def _watch_adopted_orders(self) -> None:
        """Re-read the venue while orders taken over from the predecessor are open.

        A predecessor that is slow rather than dead still holds its venue session, and the venue
        sends the reports of its orders there, not here: only the venue's own state tells. Each
        look costs what changed (their status, the executions since the last), not a mass status.
        """
        while self.roles.role is Role.ACTIVE and self.sync.adopted_open():
            await asyncio.sleep(ADOPTED_RESYNC_INTERVAL_S)
            if self.roles.role is Role.ACTIVE:
                await self.sync.follow_adopted()
                if self._publisher is not None:
                    self._publisher.positions(self.book.positions, self.book.fill_count)

    async def _take_lease(self) -> None:
        await self._acquire_lease()
        self._policy = SendPolicy.LEASE
        self._renewer = self._spawn(self._watch_stepdown(), "lease-stepdown")
        await self._stop_feeds()

    async def _trust_checkpoint(self) -> None:
        """Defect ``no-startup-reconcile``: positions from the last checkpoint, the venue never asked."""
        checkpoint = await self.sync.load_checkpoint()
        if checkpoint is not None:
            self.book.replace_costed_positions(checkpoint.book_positions())
        log.warning("defect no-startup-reconcile: started from %s without asking the venue",
                    "a checkpoint" if checkpoint else "nothing")

    async def _acquire_lease(self) -> None:
        lease = self._lease
        assert lease is not None
        waited = False
        while True:
            try:
                if await lease.try_acquire() or self._has(Defect.NO_FENCING):
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
            await asyncio.sleep(min(0.1, self.config.lease_renew_interval_s))

    async def _log_on(self) -> bool:
        """Log on (or wait for the session already there); False when it ended without a logon."""
        session = self._session
        if session is None:
            session = self._session = self._new_session()
            self.gateway.attach(session)
            self._session_task = self._spawn(session.run(), "fix-session")
        task = self._session_task
        assert task is not None
        logged_on = asyncio.create_task(session.wait_logged_on())
        try:
            await asyncio.wait({logged_on, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            logged_on.cancel()
        return session.logged_on

    def _new_session(self) -> FixSession:
        config = self.config
        settings = SessionSettings(
            host=config.fix_host,
            port=config.fix_port,
            sender_comp_id=config.fix_sender_comp_id,
            target_comp_id=config.fix_target_comp_id,
            heartbeat_s=config.fix_heartbeat_s,
            retry_initial_s=config.logon_retry_initial_s,
            retry_max_s=config.logon_retry_max_s,
            retry=not self._has(Defect.NO_LOGON_RETRY),
            logon_timeout_s=max(2.0, config.order_ack_timeout_s),
        )
        return FixSession(settings, self._on_app, self._on_session_state, self._session_gate, self._clock)

    def _on_session_state(self, state: SessionState) -> None:
        log.info("FIX session %s", state)
        session = self._session
        reconnected = session is not None and session.logons > 1
        if state is SessionState.LOGGED_ON and self.roles.role is Role.ACTIVE and reconnected:
            self._spawn(self._resync_after_reconnect(), "resync")

    async def _resync_after_reconnect(self) -> None:
        await self.sync.resync()
        if self._publisher is not None:
            self._publisher.positions(self.book.positions, self.book.fill_count)

    # -- deploy roles (docs/deploy.md §2.2-§2.3) -------------------------------------------
    def launch(self, active: bool, own_lease: bool) -> None:
        """A dormant instance starts, active or in shadow; ``own_lease``: a lease bucket of its own."""
        self.launched = True
        if own_lease:
            self._lease_bucket = f"{self.config.lease_bucket}-{self.instance}"
        self._start_as(InitialRole.ACTIVE if active else InitialRole.SHADOW)

    async def _become_shadow(self) -> None:
        await self._infra_ready.wait()
        assert self._js is not None
        self.roles.shadow()
        self._publish_role(f"shadow ({self.book.version})")
        feed = self._shadow = ShadowFeed(self._js, self.config.stream, self.config.subject_prefix, self.book,
                                         self._shadow_booked, self._clock)
        await self._retry("shadow feed start", feed.start)
        await self._log_on()

    async def park(self) -> None:
        """Step aside for a deploy: no lease, no venue session, no feed; the book is kept."""
        if self.roles.role is Role.PARKED:
            return
        for task in (self._promotion, self._renewer):
            if task is not None:
                task.cancel()
        self._policy = SendPolicy.QUERIES
        await self._stop_feeds()
        await self._close_session()
        await self._release_lease()
        if self._lease is not None:
            self._lease.release_local()
        self.roles.park()
        self._publish_role("parked")

    async def ensure_session(self) -> bool:
        return await self._log_on()

    # -- what the API and the step-down ask ------------------------------------------------
    def checks(self) -> dict[str, bool]:
        lease_ok = self._lease is not None and self._lease.valid()
        mirrored = self.roles.role is Role.STANDBY and self._mirror is not None and self._mirror.caught_up
        shadow = self._shadow
        replayed = shadow is not None and shadow.replayed
        return {
            "exchange_session": self.gateway.session_up,
            "positions_restored": self.positions_restored or mirrored or replayed,
            "reconciled": self.reconciled,
            "lease": lease_ok,
            "nats": self._nc is not None and self._nc.is_connected,
            "database": self.store.connected,
            "caught_up": shadow is not None and shadow.caught_up,
        }

    def ready(self, checks: dict[str, bool]) -> bool:
        role = self.roles.role
        if role is Role.STANDBY:
            mirror_ok = self._mirror is not None and self._mirror.caught_up
            return checks["nats"] and mirror_ok and not self._promotion_running()
        required = READY_CHECKS.get(role)
        return required is not None and all(checks[name] for name in required)

    def keeper_status(self) -> dict[str, Any]:
        keeper = self._keeper
        if keeper is None:
            return {"connected": False, "renewals": 0, "worst_renewal_ms": 0.0}
        return {"connected": keeper.connected, "renewals": keeper.renewals,
                "worst_renewal_ms": round(keeper.worst_renewal_ms, 3)}

    def promotable(self) -> bool:
        """Whether a promotion could start now: a standby or fenced instance, caught up, not stopping."""
        mirror = self._mirror
        return self.roles.role in (Role.STANDBY, Role.FENCED) and not self._promotion_running() \
            and not self._stopping and mirror is not None and mirror.caught_up

    def refusal(self) -> ApiResult | None:
        """Why this instance may not send an order now (not active, fenced, draining, no session)."""
        role = self.roles.role.value
        if self.roles.role is not Role.ACTIVE or not self.may_send():
            return ApiResult(503, {"error": "not active", "role": role})
        if self.draining:
            return ApiResult(503, {"error": "draining", "role": role})
        if not self.gateway.session_up:
            return ApiResult(503, {"error": "venue session down", "role": role})
        return None


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(OmsConfig, argv, "python -m trading_stack.oms")
    setup_logging(config.instance_id)

    async def _main(stop: asyncio.Event) -> None:
        await Oms(config).run(stop)

    return run_service(_main)


if __name__ == "__main__":
    sys.exit(main())
