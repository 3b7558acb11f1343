"""The OMS process: the composition root of one OMS instance.

``python -m trading_stack.oms --config oms.json``. Roles: a standby mirrors the stream; a
promotion acquires the lease (never stealing it), logs on with this instance's own
SenderCompID, reconciles against the venue's mass status and only then becomes active.
An active instance that cannot trust its lease any more is fenced at once. For a deploy, a
dormant instance is launched in shadow (computing in the dark) or active; the deployer parks
and re-activates instances (docs/deploy.md §2). The HTTP API's side is :mod:`trading_stack.oms_api`.

The parts: :mod:`~trading_stack.oms_streams` (NATS: publisher, mirror, shadow feed),
:mod:`~trading_stack.oms_session` (the FIX session and its send gates), :mod:`~trading_stack.oms_lease`
(the lease and fencing), :mod:`~trading_stack.oms_promotion`, :mod:`~trading_stack.oms_deploy`
(shadow, park) and :mod:`~trading_stack.oms_book_sink` (where order changes and fills go).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trading_stack.book import Book
from trading_stack.breaker_runtime import BreakerRuntime
from trading_stack.checkpoints import Checkpoint, save_checkpoint
from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.config import Defect, InitialRole, OmsConfig
from trading_stack.deploy.positions import Position
from trading_stack.gateway import OrderGateway, PlaceResult
from trading_stack.http_api import ApiResult
from trading_stack.loop_lag import LoopLagMonitor
from trading_stack.metrics_http import new_registry
from trading_stack.models import NewOrderRequest, Order, OrdType, Side
from trading_stack.oms_api import OmsService  # names Oms only for type checking: no cycle
from trading_stack.oms_book_sink import OmsBookSink
from trading_stack.oms_deploy import DeployRoles
from trading_stack.oms_lease import LeaseGuard
from trading_stack.oms_metrics import OrderMetrics, oms_collector
from trading_stack.oms_promotion import Promoter
from trading_stack.oms_session import VenueLink
from trading_stack.oms_streams import OmsStreams
from trading_stack.order_throttle import OrderThrottle
from trading_stack.risk import RiskLimits
from trading_stack.roles import Promotion, Role, RoleMachine
from trading_stack.runtime import announce_ready, load_config, run_service, setup_logging, start_http
from trading_stack.shutdown import graceful_stop
from trading_stack.store import STORE_ROWS_NOT_WRITTEN, Store, publish_backlog
from trading_stack.trip_keeper import TripKeeper
from trading_stack.venue_halts import VenueHalts
from trading_stack.venue_sync import VenueSync

if TYPE_CHECKING:
    from trading_stack.market_data.runtime import MarketData

log = logging.getLogger(__name__)

# an instance starting as active is a standby until its promotion is done; a shadow is dormant
# until its feed runs
INITIAL_ROLES = {InitialRole.ACTIVE: Role.STANDBY, InitialRole.STANDBY: Role.STANDBY,
                 InitialRole.SHADOW: Role.DORMANT, InitialRole.DORMANT: Role.DORMANT}
MIN_FLUSH_S = 0.1
READY_CHECKS: dict[Role, tuple[str, ...]] = {
    Role.ACTIVE: ("exchange_session", "positions_restored", "reconciled", "lease", "nats"),
    Role.SHADOW: ("exchange_session", "nats", "positions_restored", "caught_up"),
    Role.PARKED: ("nats",),
}


class Oms:
    """One OMS instance. ``run(stop)`` serves until ``stop`` is set, then shuts down cleanly.

    The composition root: it owns the book, the store and the gateway, and composes
    ``streams`` (NATS), ``link`` (the FIX session and its gates), ``guard`` (the lease and
    fencing), ``promotion``, ``deploy`` and the gateway's book sink; each reaches back only
    through its own host protocol.
    """

    def __init__(self, config: OmsConfig, clock: MonotonicNs = monotonic_ns, boot: int | None = None) -> None:
        self.config = config
        self.instance = config.instance_id
        self._defects = frozenset(config.defects)
        self._clock = clock
        self._boot = boot if boot is not None else time.time_ns() // 1_000_000
        self._tasks: set[asyncio.Task[Any]] = set()
        self._store_task: asyncio.Task[None] | None = None
        self._stop_requested: asyncio.Event | None = None
        self._stopping = False
        self.reconciled = False
        self.positions_restored = False
        self.draining = False
        self.launched = False
        self.book = Book(config.version)
        self.risk = RiskLimits()
        self.venue_halts = VenueHalts(self._defects, clock)
        self.roles = RoleMachine(INITIAL_ROLES[config.initial_role])
        self.link = VenueLink(config, clock, self)  # its policy follows the initial role
        self.gateway = OrderGateway(self.instance, self._boot, self.book, sink=OmsBookSink(self),
                                    ack_timeout_s=config.order_ack_timeout_s, clock=clock,
                                    app_gate=self.link.app_gate)
        self.throttle = OrderThrottle(
            None if Defect.NO_CLIENT_THROTTLE in self._defects else config.venue_rate_limit, time.monotonic)
        self.store = Store(config.database_dsn, reconnect=Defect.NO_DB_RECONNECT not in self._defects)
        self.sync = VenueSync(config, self.book, self.gateway, self.risk, self.alert, self.spawn,
                              lambda: self.link.session)
        self.breaker = BreakerRuntime(config.breaker, self, clock, self.spawn, self._trip_keeper())
        self.loop_lag = LoopLagMonitor(self._publish_loop_lag)
        self.streams = OmsStreams(config, self.book, self.roles, clock, self.spawn, lambda: self._stopping)
        self.guard = LeaseGuard(config, clock, self)
        self.promotion = Promoter(config, self)
        self.deploy = DeployRoles(self)
        self.market_data = self._market_data()
        self.registry = new_registry()
        self.metrics = OrderMetrics(self.registry)
        self.registry.register(oms_collector(self))

    def _trip_keeper(self) -> TripKeeper | None:
        """The breaker's trip kept in the database; defect ``kill-switch-in-memory``: in this process only."""
        if Defect.KILL_SWITCH_IN_MEMORY in self._defects:
            return None
        return TripKeeper(self.config.database_dsn, self.instance, self.alert, self.spawn,
                          self.config.db_connect_timeout_s)

    def _market_data(self) -> MarketData | None:
        """The feeds and the pricing off them (issue 16); None without ``market_data``: nothing priced."""
        if self.config.market_data is None:
            return None
        from trading_stack.market_data.runtime import MarketData  # only an OMS with feeds needs it

        return MarketData(self.config.market_data, self._defects, self._clock, self, self.spawn)

    # -- small helpers -----------------------------------------------------------------
    @property
    def has_shallow_health(self) -> bool:
        return Defect.SHALLOW_HEALTH in self._defects

    @property
    def clock(self) -> MonotonicNs:
        return self._clock

    @property
    def stopping(self) -> bool:
        return self._stopping

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
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
        lease = self.guard.lease
        if lease is not None and lease.held:
            return lease.epoch
        return max(self.roles.epoch, self.streams.seen_epoch)

    def _publish_loop_lag(self, summary: Mapping[str, float | int]) -> None:
        if self.streams.publisher is not None:
            self.streams.publisher.loop_lag(summary)

    def publish_role(self, reason: str) -> None:
        log.info("role %s epoch=%d (%s)", self.roles.role, self.epoch, reason)
        if self.streams.publisher is not None:
            self.streams.publisher.role(self.roles.role, self.epoch, reason, self.book.version.value)

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None:
        log.info("alert %s %s", alert, dict(detail))
        self.streams.publish_alert(alert, detail)

    def ensure_store(self) -> None:
        if self._store_task is None:
            self._store_task = self.spawn(self.store.run(), "store")
            self.spawn(publish_backlog(self.store, lambda: self.streams.publisher), "store-backlog")

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
        return await self.place(request)

    async def place(self, request: NewOrderRequest) -> PlaceResult:
        """A new order to the venue, unless the client-side throttle holds it back (429)."""
        throttled = self.throttle.refusal()
        if throttled is not None:
            return PlaceResult(429, error=throttled)
        return await self.gateway.place(request)

    # -- MarketDataHost --------------------------------------------------------------------
    @property
    def trading(self) -> bool:
        return self.roles.role is Role.ACTIVE and not self._stopping

    def publish_market_data(self, suffix: str, body: Mapping[str, Any]) -> None:
        if self.streams.publisher is not None:
            self.streams.publisher.market_data(suffix, body)

    def halt_for_feed_loss(self, detail: Mapping[str, Any], flatten: bool) -> None:
        self.breaker.halt(detail, flatten)

    async def end_feed_halt(self) -> None:
        await self.breaker.end_halt()

    def publish_pnl(self, pnl: float, peak: float) -> None:
        if self.streams.publisher is not None:
            self.streams.publisher.pnl(pnl, peak)

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        """The checkpoint, then the store's backlog, both within ``shutdown_flush_timeout_s``."""
        bound_s, began = self.config.shutdown_flush_timeout_s, self._clock()
        await save_checkpoint(self.config.database_dsn, checkpoint, bound_s)
        await self.store.flush(max(bound_s - (self._clock() - began) / 1e9, MIN_FLUSH_S))

    # -- lifecycle ---------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, on_ready: Callable[[int], None] = announce_ready) -> None:
        self._stop_requested = stop
        self.spawn(self.loop_lag.run(), "loop-lag")
        self.spawn(self.sync.drop_copy_sweeps(self._sweeps_drop_copy), "drop-copy")
        runner, port = await start_http(OmsService(self).app(), self.config.host, self.config.http_port)
        try:
            on_ready(port)
            self._start_as(self.config.initial_role)
            await stop.wait()
        finally:
            await self._shutdown()
            await runner.cleanup()

    def _sweeps_drop_copy(self) -> bool:
        return self.roles.role is Role.ACTIVE and not self._stopping and self.guard.may_send()

    def request_stop(self) -> None:
        if self._stop_requested is not None:
            self._stop_requested.set()

    def _start_as(self, role: InitialRole) -> None:
        if role is InitialRole.DORMANT:
            return
        if self.market_data is not None:
            self.market_data.start()
        if role is not InitialRole.SHADOW:
            self.ensure_store()
        if self.breaker.keeper is not None:
            self.spawn(self.breaker.watch(lambda: self.trading), "trip-watch")
        self.spawn(self._setup_infra(), "setup")
        if role is InitialRole.ACTIVE:
            self.promote("startup", Promotion.STARTUP)
        elif role is InitialRole.SHADOW:
            self.spawn(self.deploy.shadow(), "shadow")

    async def _setup_infra(self) -> None:
        kv = await self.streams.connect(self.guard.bucket)
        self.guard.start(kv)
        self.streams.open()
        if self.roles.role is Role.STANDBY and not self.promotion.started:
            self.publish_role("started as standby")
            await self.streams.start_mirror()

    async def _shutdown(self) -> None:
        if self.roles.role is Role.ACTIVE and not self._stopping and self.guard.valid():
            self.draining = True
            await self.breaker.stop()
            await graceful_stop(self, self.config, self._clock)
        self._stopping = True
        await self.breaker.stop()
        if self.market_data is not None:
            await self.market_data.stop()
        self.promotion.cancel()
        self.guard.stop_watch()
        await self.link.close()
        await self.guard.stop()
        await self.streams.stop_feeds()
        not_written = await self.store.close(1.0)
        if not_written:
            self.alert(STORE_ROWS_NOT_WRITTEN, {"rows": not_written, **self.store.backlog_stats().as_dict()})
        await self.streams.flush(1.0)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.streams.close()

    # -- role changes (oms_api, breaker) -----------------------------------------------------
    def promote(self, reason: str, kind: Promotion = Promotion.FAILOVER) -> ApiResult:
        return self.promotion.promote(reason, kind)

    def launch(self, active: bool, own_lease: bool) -> None:
        """A dormant instance starts, active or in shadow; ``own_lease``: a lease bucket of its own."""
        self.launched = True
        if own_lease:
            self.guard.bucket = f"{self.config.lease_bucket}-{self.instance}"
        self._start_as(InitialRole.ACTIVE if active else InitialRole.SHADOW)

    async def park(self) -> None:
        await self.deploy.park()

    async def ensure_session(self) -> bool:
        return await self.link.log_on()

    # -- what the API and the step-down ask ------------------------------------------------
    def checks(self) -> dict[str, bool]:
        mirrored = self.roles.role is Role.STANDBY and self.streams.mirror_caught_up
        shadow = self.streams.shadow
        replayed = shadow is not None and shadow.replayed
        return {
            "exchange_session": self.gateway.session_up,
            "positions_restored": self.positions_restored or mirrored or replayed,
            "reconciled": self.reconciled,
            "lease": self.guard.valid(),
            "nats": self.streams.connected,
            "database": self.store.connected,
            "caught_up": shadow is not None and shadow.caught_up,
        }

    def ready(self, checks: dict[str, bool]) -> bool:
        role = self.roles.role
        if role is Role.STANDBY:
            return checks["nats"] and self.streams.mirror_caught_up and not self.promotion.running()
        required = READY_CHECKS.get(role)
        return required is not None and all(checks[name] for name in required)

    def keeper_status(self) -> dict[str, Any]:
        return self.guard.status()

    def promotable(self) -> bool:
        """Whether a promotion could start now: a standby or fenced instance, caught up, not stopping."""
        return self.roles.role in (Role.STANDBY, Role.FENCED) and not self.promotion.running() \
            and not self._stopping and self.streams.mirror_caught_up

    def refusal(self) -> ApiResult | None:
        """Why this instance may not send an order now (not active, fenced, draining, no session)."""
        role = self.roles.role.value
        if self.roles.role is not Role.ACTIVE or not self.guard.may_send():
            return ApiResult(503, {"error": "not active", "role": role})
        if self.draining:
            return ApiResult(503, {"error": "draining", "role": role})
        if not self.gateway.session_up:
            return ApiResult(503, {"error": "venue session down", "role": role})
        return None


def main(argv: Sequence[str] | None = None) -> int:
    config = load_config(OmsConfig, argv, "python -m trading_stack.oms")
    setup_logging("oms", config.instance_id)

    async def _main(stop: asyncio.Event) -> None:
        await Oms(config).run(stop)

    return run_service(_main)


if __name__ == "__main__":
    sys.exit(main())
