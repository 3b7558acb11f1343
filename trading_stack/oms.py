"""The OMS process: composition root and role state machine.

``python -m trading_stack.oms --config oms.json``. Roles: a standby mirrors the stream; a
promotion acquires the lease (never stealing it), logs on with this instance's own
SenderCompID, reconciles against the venue's mass status and only then becomes active.
An active instance that cannot trust its lease any more is fenced at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import asyncpg
from nats.aio.client import Client as NatsClient

from trading_stack.book import Book, positions_from_reports
from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.config import Defect, InitialRole, OmsConfig
from trading_stack.db_sync import load_out_of_band_state, save_risk_limit
from trading_stack.events import EventPublisher, Mirror, connect_nats, ensure_stream
from trading_stack.fix_client import FixSession, SessionSettings, SessionState
from trading_stack.gateway import NotSent, OrderGateway, PlaceResult
from trading_stack.http_api import ApiResult, build_app
from trading_stack.lease import LEASE_KEY, Lease, LeaseLost, lease_bucket
from trading_stack.models import ExecutionReport, Fill, NewOrderRequest, Order, OrdType, Side
from trading_stack.reconcile import plan_reconciliation, real_reports
from trading_stack.risk import RiskLimits, RiskLimitUpdate
from trading_stack.roles import Role, RoleMachine
from trading_stack.runtime import announce_ready, load_config, run_service, setup_logging, start_http
from trading_stack.store import Store

log = logging.getLogger(__name__)

UNKNOWN_OPEN_ORDER = "UnknownOpenOrder"
PROMOTION_RECONCILED = "PromotionReconciled"
OUT_OF_BAND_SYNC_FAILED = "OutOfBandSyncFailed"
REPLICATION_SAMPLE_INTERVAL_S = 0.25
DB_TIMEOUT_S = 3.0


def _report_detail(report: ExecutionReport) -> dict[str, Any]:
    return {
        "order_id": report.cl_ord_id,
        "exchange_order_id": report.order_id,
        "symbol": report.symbol,
        "side": report.side.value if report.side else None,
        "qty": report.qty,
        "cum_qty": report.cum_qty,
        "owner": report.owner_sub_id,
    }


class Oms:
    """One OMS instance. ``run(stop)`` serves until ``stop`` is set, then shuts down cleanly."""

    def __init__(self, config: OmsConfig, clock: MonotonicNs = monotonic_ns, boot: int | None = None) -> None:
        self.config = config
        self.instance = config.instance_id
        self._defects = frozenset(config.defects)
        self._clock = clock
        self._boot = boot if boot is not None else time.time_ns() // 1_000_000
        self.book = Book()
        self.risk = RiskLimits()
        self.roles = RoleMachine(Role.STANDBY)
        self.gateway = OrderGateway(
            self.instance,
            self._boot,
            self.book,
            sink=self,
            ack_timeout_s=config.order_ack_timeout_s,
            clock=clock,
        )
        self.store = Store(config.database_dsn, reconnect=Defect.NO_DB_RECONNECT not in self._defects)
        self._nc: NatsClient | None = None
        self._publisher: EventPublisher | None = None
        self._mirror: Mirror | None = None
        self._lease: Lease | None = None
        self._session: FixSession | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._promotion: asyncio.Task[None] | None = None
        self._renewer: asyncio.Task[None] | None = None
        self._infra_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seen_epoch = 0
        self.reconciled = False
        self.positions_restored = False
        self.kill_switch_engaged = False
        self._stopping = False

    # -- small helpers -----------------------------------------------------------------
    def _has(self, defect: Defect) -> bool:
        return defect in self._defects

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

    def _publish_role(self, reason: str) -> None:
        log.info("role %s epoch=%d (%s)", self.roles.role, self.epoch, reason)
        if self._publisher is not None:
            self._publisher.role(self.roles.role, self.epoch, reason)

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

    # -- lifecycle ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, on_ready: Callable[[int], None] = announce_ready) -> None:
        self._spawn(self.store.run(), "store")
        runner, port = await start_http(
            build_app(self, self.config.admin_token), self.config.host, self.config.http_port
        )
        try:
            on_ready(port)
            setup = self._spawn(self._setup_infra(), "setup")
            if self.config.initial_role is InitialRole.ACTIVE:
                self.promote("startup")
            await stop.wait()
            setup.cancel()
        finally:
            await self._shutdown()
            await runner.cleanup()

    async def _setup_infra(self) -> None:
        config = self.config
        nc = await connect_nats(config.nats_url, name=f"oms-{self.instance}")
        self._nc = nc
        js = nc.jetstream(timeout=2.0)
        while True:
            try:
                await ensure_stream(js, config.stream, config.subject_prefix)
                kv = await lease_bucket(js, config.lease_bucket, config.lease_ttl_s)
                break
            except Exception as err:
                log.warning("NATS setup failed (%s); retrying", err)
                await asyncio.sleep(0.5)
        self._lease = Lease(kv, self.instance, config.lease_ttl_s, config.lease_safety_margin_s, self._clock)
        self._publisher = EventPublisher(js, config.subject_prefix, self.instance, self._clock)
        self._spawn(self._publisher.run(), "publisher")
        self._mirror = Mirror(js, config.stream, config.subject_prefix, self.book, on_epoch=self._note_epoch,
                              clock=self._clock)
        self._spawn(self._sample_replication_lag(), "replication-lag")
        self._infra_ready.set()
        if self.roles.role is Role.STANDBY and self._promotion is None:
            self._publish_role("started as standby")
            await self._start_mirror()

    async def _sample_replication_lag(self) -> None:
        while True:
            await asyncio.sleep(REPLICATION_SAMPLE_INTERVAL_S)
            mirror, publisher = self._mirror, self._publisher
            if self.roles.role is Role.STANDBY and mirror is not None and publisher is not None \
                    and mirror.caught_up:
                publisher.replication(*mirror.take_lag_sample())

    async def _start_mirror(self) -> None:
        mirror = self._mirror
        if mirror is None:
            return
        while not self._stopping:
            try:
                await mirror.start()
                return
            except Exception as err:
                log.warning("mirror start failed (%s); retrying", err)
                await asyncio.sleep(0.5)

    async def _shutdown(self) -> None:
        self._stopping = True
        for task in (self._promotion, self._renewer):
            if task is not None:
                task.cancel()
        session = self._session
        if session is not None:
            if self._has(Defect.NO_FENCING) or (self._lease is not None and self._lease.valid()):
                await session.close()
            else:
                session.abort()
        if self._session_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(2.0):
                    await self._session_task
        await self._release_lease()
        if self._mirror is not None:
            await self._mirror.stop()
        if self._publisher is not None:
            await self._publisher.flush(1.0)
        await self.store.flush(1.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._nc is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self._nc.close()

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
        if self._lease is not None:
            self._lease.release_local()
        self.reconciled = False
        self.positions_restored = False
        self._publish_role(f"fenced: {reason}")
        self._spawn(self._start_mirror(), "mirror-after-fence")

    async def _renew_loop(self) -> None:
        lease = self._lease
        assert lease is not None
        interval = self.config.lease_renew_interval_s
        while True:
            if not lease.held:  # only reachable with the no-fencing defect
                await asyncio.sleep(interval)
                with contextlib.suppress(Exception):
                    await lease.try_acquire()
                continue
            await asyncio.sleep(max(0.0, min(interval, lease.trust.remaining_s())))
            if not lease.trust.valid():
                lease.release_local()
                self.fence("lease expired before it could be renewed")
                if not self._has(Defect.NO_FENCING):
                    return
                continue
            try:
                await lease.renew()
            except LeaseLost as err:
                self.fence(str(err))
                if not self._has(Defect.NO_FENCING):
                    return
                continue
            if await self._step_down_if_asked(lease):
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
    def promote(self, reason: str) -> ApiResult:
        if self.roles.role is Role.ACTIVE:
            return ApiResult(202, {"status": "already active", "role": self.roles.role.value})
        if self._promotion is not None and not self._promotion.done():
            return ApiResult(202, {"status": "promotion in progress", "role": self.roles.role.value})
        self._promotion = self._spawn(self._promote(reason), "promotion")
        return ApiResult(202, {"status": "promoting", "role": self.roles.role.value})

    async def _promote(self, reason: str) -> None:
        await self._infra_ready.wait()
        await self._acquire_lease()
        self._renewer = self._spawn(self._renew_loop(), "lease-renewer")
        if self._mirror is not None:
            await self._mirror.stop()
        if not self._has(Defect.NO_DB_SYNC_ON_PROMOTION):
            await self._sync_out_of_band_state()
        if not await self._log_on():
            log.error("promotion stalled: no venue session (logon retry disabled)")
            return
        await self._reconcile()
        if not self.may_send():
            return
        assert self._lease is not None
        self.roles.activate(self._lease.epoch)
        self._publish_role(f"promoted ({reason})")
        if self._publisher is not None:
            self._publisher.positions(self.book.positions, self.book.fill_count)

    async def _sync_out_of_band_state(self) -> None:
        """Adopt what the stream does not carry: risk limits and resting orders from the database."""
        try:
            state = await load_out_of_band_state(self.config.database_dsn, DB_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError) as err:
            log.error("out-of-band state sync failed: %s", err)
            if self._publisher is not None:
                self._publisher.alert(OUT_OF_BAND_SYNC_FAILED, {"error": f"{type(err).__name__}: {err}"})
            return
        self.risk.replace(state.risk_limits)
        for order in state.open_orders:
            if not self.book.knows(order.order_id):
                self.book.add_order(order)
        log.info("synced %d risk limit(s) and %d open order(s) from the database",
                 len(state.risk_limits), len(state.open_orders))

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
        session = FixSession(
            settings, self.gateway.on_app, self._on_session_state, self.may_send, self._clock
        )
        self._session = session
        self.gateway.attach(session)
        self._session_task = self._spawn(session.run(), "fix-session")
        logged_on = asyncio.create_task(session.wait_logged_on())
        try:
            await asyncio.wait({logged_on, self._session_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            logged_on.cancel()
        return session.logged_on

    def _on_session_state(self, state: SessionState) -> None:
        log.info("FIX session %s", state)
        session = self._session
        if (
            state is SessionState.LOGGED_ON
            and self.roles.role is Role.ACTIVE
            and session
            and session.logons > 1
        ):
            self._spawn(self._resync_after_reconnect(), "resync")

    async def _mass_status(self) -> list[ExecutionReport]:
        """Mass status, retried until the venue answers (waits for the session if it dropped)."""
        timeout = max(2.0, 3 * self.config.order_ack_timeout_s)
        while True:
            session = self._session
            if session is None:
                raise NotSent("no session")
            if not session.logged_on:
                await session.wait_logged_on()
            try:
                return await self.gateway.mass_status(timeout)
            except (TimeoutError, NotSent) as err:
                log.warning("mass status failed (%s); retrying", err)
                await asyncio.sleep(self.config.logon_retry_initial_s)

    async def _reconcile(self) -> None:
        reports = await self._mass_status()
        mirror_positions = self.book.positions if self._has(Defect.NO_FILL_RECONCILE) else None
        plan = plan_reconciliation(reports, self.book.known_orders(), self.instance, mirror_positions,
                                   adopt_known=True)
        venue_orders = real_reports(reports)
        self.gateway.import_reports(venue_orders)
        for ghost in plan.ghosts:
            if self._publisher is not None:
                self._publisher.alert(UNKNOWN_OPEN_ORDER, {**_report_detail(ghost), "action": "cancel"})
        cancels = [self.book.get(r.cl_ord_id) for r in plan.to_cancel]
        results = await asyncio.gather(*(self.gateway.cancel(o) for o in cancels if o is not None))
        positions = plan.positions
        if plan.to_cancel and mirror_positions is None:
            again = real_reports(await self._mass_status())
            self.gateway.import_reports(again)
            positions = positions_from_reports(again)
        self.book.replace_positions(positions)
        self.positions_restored = True
        self.reconciled = True
        if self._publisher is not None:
            self._publisher.alert(
                PROMOTION_RECONCILED,
                {
                    "venue_orders": len(venue_orders),
                    "unknown_open_orders": [g.cl_ord_id for g in plan.ghosts],
                    "orphan_canceled": [o.cl_ord_id for o in plan.orphans],
                    "cancel_failed": [r.order.order_id for r in results if r.status != 200 and r.order],
                    "positions": positions,
                    "mirror_positions": mirror_positions if mirror_positions is not None else None,
                    "source": "mirror" if mirror_positions is not None else "venue",
                },
            )

    async def _resync_after_reconnect(self) -> None:
        """After a reconnect the venue does not replay missed reports: re-read its truth."""
        try:
            reports = real_reports(await self._mass_status())
        except NotSent:
            return
        self.gateway.import_reports(reports)
        if not self._has(Defect.NO_FILL_RECONCILE):
            self.book.replace_positions(positions_from_reports(reports))
        if self._publisher is not None:
            self._publisher.positions(self.book.positions, self.book.fill_count)

    # -- OmsApi ------------------------------------------------------------------------
    def role_info(self) -> dict[str, Any]:
        return {"instance": self.instance, "role": self.roles.role.value, "epoch": self.epoch}

    def checks(self) -> dict[str, bool]:
        lease_ok = self._lease is not None and self._lease.valid()
        return {
            "exchange_session": self.gateway.session_up,
            "positions_restored": self.positions_restored
            or (self.roles.role is Role.STANDBY and self._mirror is not None and self._mirror.caught_up),
            "reconciled": self.reconciled,
            "lease": lease_ok,
            "nats": self._nc is not None and self._nc.is_connected,
            "database": self.store.connected,
        }

    def ready(self, checks: dict[str, bool]) -> bool:
        role = self.roles.role
        if role is Role.ACTIVE:
            required = ("exchange_session", "positions_restored", "reconciled", "lease", "nats")
            return all(checks[name] for name in required)
        if role is Role.STANDBY:
            promoting = self._promotion is not None and not self._promotion.done()
            mirror_ok = self._mirror is not None and self._mirror.caught_up
            return checks["nats"] and mirror_ok and not promoting
        return False

    def deep_health(self) -> ApiResult:
        checks = self.checks()
        ready = self.ready(checks)
        if self._has(Defect.SHALLOW_HEALTH):
            ready = True
        body = {"role": self.roles.role.value, "ready": ready, "checks": checks}
        return ApiResult(200 if ready else 503, body)

    def positions_body(self) -> dict[str, Any]:
        return {"positions": self.book.positions, "fills": self.book.fill_count}

    def orders_body(self, status: str | None) -> list[dict[str, object]]:
        orders = self.book.orders()
        if status == "open":
            orders = [o for o in orders if o.status.is_open]
        elif status:
            orders = [o for o in orders if o.status.value == status]
        return [o.api_dict() for o in orders]

    def _refusal(self) -> ApiResult | None:
        if self.roles.role is not Role.ACTIVE:
            return ApiResult(503, {"error": "not active", "role": self.roles.role.value})
        if not self.may_send():
            return ApiResult(503, {"error": "not active", "role": self.roles.role.value})
        if not self.gateway.session_up:
            return ApiResult(503, {"error": "venue session down", "role": self.roles.role.value})
        return None

    async def place(self, request: NewOrderRequest) -> ApiResult:
        if self.kill_switch_engaged:
            return ApiResult(503, {"error": "kill switch engaged", "role": self.roles.role.value})
        return await self._place(request)

    async def _place(self, request: NewOrderRequest) -> ApiResult:
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        breach = self.risk.refusal(request)
        if breach is not None:
            return ApiResult(422, {"error": "risk limit", "detail": breach})
        return self._result(await self.gateway.place(request))

    def _result(self, result: PlaceResult) -> ApiResult:
        if result.status in (200, 201) and result.order is not None:
            return ApiResult(result.status, result.order.api_dict())
        if result.status == 503:
            return ApiResult(
                503, {"error": "not active", "role": self.roles.role.value, "detail": result.error}
            )
        body: dict[str, Any] = {"error": result.error}
        if result.text:
            body["text"] = result.text
        if result.order is not None:
            body["order"] = result.order.api_dict()
        return ApiResult(result.status, body)

    async def cancel(self, order_id: str) -> ApiResult:
        order = self.book.get(order_id)
        if order is None:
            return ApiResult(404, {"error": "unknown order", "order_id": order_id})
        if order.status.is_done:
            return ApiResult(409, {"error": "order already done", "order": order.api_dict()})
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        return self._result(await self.gateway.cancel(order))

    async def set_risk_limit(self, update: RiskLimitUpdate) -> ApiResult:
        """Persist first (the database is where a successor finds it), then enforce."""
        try:
            await save_risk_limit(self.config.database_dsn, update.symbol, update.max_order_qty,
                                  self.instance, DB_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError) as err:
            detail = f"{type(err).__name__}: {err}"
            return ApiResult(503, {"error": "risk limit not persisted", "detail": detail})
        self.risk.set(update.symbol, update.max_order_qty)
        return ApiResult(200, {"risk_limits": self.risk.as_dict()})

    async def kill_switch(self) -> ApiResult:
        self.kill_switch_engaged = True
        if self._publisher is not None:
            self._publisher.alert("KillSwitchEngaged", {"open_orders": len(self.book.open_orders())})
        if self._refusal() is not None:
            return ApiResult(
                200, {"kill_switch": True, "canceled": [], "failed": [], "role": self.roles.role.value}
            )
        open_orders = self.book.open_orders()
        results = await asyncio.gather(*(self.gateway.cancel(o) for o in open_orders))
        canceled = [o.order_id for o, r in zip(open_orders, results, strict=True) if r.status == 200]
        failed = [
            {"order_id": o.order_id, "status": r.status, "error": r.error}
            for o, r in zip(open_orders, results, strict=True)
            if r.status != 200
        ]
        return ApiResult(200, {"kill_switch": True, "canceled": canceled, "failed": failed})

    async def flatten(self) -> ApiResult:
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        requests = [
            NewOrderRequest(
                symbol=symbol, side=Side.SELL if qty > 0 else Side.BUY, qty=abs(qty), type=OrdType.MARKET
            )
            for symbol, qty in sorted(self.book.positions.items())
        ]
        results = await asyncio.gather(*(self._place(r) for r in requests))
        return ApiResult(
            200,
            {
                "orders": [r.body for r in results if r.status == 201],
                "failed": [{"status": r.status, **r.body} for r in results if r.status != 201],
            },
        )


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(OmsConfig, argv, "python -m trading_stack.oms")
    setup_logging(config.instance_id)

    async def _main(stop: asyncio.Event) -> None:
        await Oms(config).run(stop)

    return run_service(_main)


if __name__ == "__main__":
    sys.exit(main())
