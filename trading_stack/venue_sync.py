"""What the venue and the database say, brought into the book: reconciliation and restores.

- :meth:`VenueSync.reconcile`: on a promotion, a start as active or a cutover — mass status,
  open orders nobody here knows are alerted ``UnknownOpenOrder`` (``source`` says when) and
  cancelled (resent in the background until the venue confirms), positions from the venue.
- :meth:`VenueSync.recover_executions`: on a promotion, after the reconciliation, book the
  executions the book never heard of (the venue's trade capture; ``ExecutionsRecovered``).
- :meth:`VenueSync.resync`: after a reconnect, re-read the venue's truth (mass status once), then
  book the executions missed meanwhile.
- :meth:`VenueSync.follow_adopted`: while orders taken over from a predecessor are open, what
  changed since the last look (their order status, the executions since the last one seen).
- :meth:`VenueSync.sync_out_of_band_state`: risk limits (and, on a promotion, open orders) from
  Postgres (seed 002's out-of-band state).
- :meth:`VenueSync.restore_positions`: a rollback's restore — positions from the database,
  checked against the venue (``RestoreMismatch``; the venue wins).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from trading_stack.book import Book, venue_positions
from trading_stack.checkpoints import Checkpoint, load_checkpoint, load_positions
from trading_stack.config import Defect, OmsConfig
from trading_stack.db_sync import load_out_of_band_state
from trading_stack.deploy.positions import Position
from trading_stack.execution_recovery import ExecutionRecovery
from trading_stack.fix_client import FixSession
from trading_stack.gateway import NotSent, OrderGateway
from trading_stack.models import ExecutionReport, Order, OrderStatus
from trading_stack.order_log import log_order, log_reconciled
from trading_stack.pg_connect import PrimaryPolicy
from trading_stack.reconcile import plan_reconciliation, real_reports
from trading_stack.risk import RiskLimits
from trading_stack.trade_capture import TradeCaptureRefused

log = logging.getLogger(__name__)

RECOVERY_DEFECTS = frozenset({Defect.NO_FILL_RECONCILE, Defect.NO_EXECUTION_RECOVERY})
"""Either leaves the venue's executions unread: no recovery on a promotion, no drop-copy sweep."""

UNKNOWN_OPEN_ORDER = "UnknownOpenOrder"
PROMOTION_RECONCILED = "PromotionReconciled"
OUT_OF_BAND_SYNC_FAILED = "OutOfBandSyncFailed"
CHECKPOINT_MISMATCH = "CheckpointMismatch"
RESTORE_MISMATCH = "RestoreMismatch"
EXECUTIONS_RECOVERED = "ExecutionsRecovered"
EXECUTION_RECOVERY_FAILED = "ExecutionRecoveryFailed"
RECOVERY_ERRORS = (TimeoutError, NotSent, TradeCaptureRefused)
DB_TIMEOUT_S = 3.0
DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError)
GHOST_CANCEL_RETRY_S = 0.5
GHOST_CANCEL_ATTEMPTS = 60
STATUS_REQUESTS_PER_LOOK = 32

Alert = Callable[[str, Mapping[str, Any]], None]
Spawn = Callable[..., "asyncio.Task[Any]"]


class SyncSource(StrEnum):
    """Why a reconciliation runs (the ``source`` of its ``UnknownOpenOrder`` alerts)."""

    STARTUP = "startup"
    PROMOTION = "promotion"
    CUTOVER = "cutover"


@dataclass(frozen=True)
class Restored:
    positions: dict[str, int]
    source: str


def report_detail(report: ExecutionReport) -> dict[str, Any]:
    return {
        "order_id": report.cl_ord_id,
        "exchange_order_id": report.order_id,
        "symbol": report.symbol,
        "side": report.side.value if report.side else None,
        "qty": report.qty,
        "cum_qty": report.cum_qty,
        "owner": report.owner_sub_id,
    }


def lots(positions: Mapping[str, Position]) -> dict[str, int]:
    return {symbol: p.qty for symbol, p in positions.items() if p.qty}


class VenueSync:
    def __init__(self, config: OmsConfig, book: Book, gateway: OrderGateway, risk: RiskLimits, alert: Alert,
                 spawn: Spawn, session: Callable[[], FixSession | None],
                 recovery: ExecutionRecovery | None = None) -> None:
        self._config = config
        self._instance = config.instance_id
        self._defects = frozenset(config.defects)
        self._book = book
        self._gateway = gateway
        self._risk = risk
        self._alert = alert
        self._spawn = spawn
        self._session = session
        self._recovery = recovery or ExecutionRecovery(book, gateway, self._instance)
        self._last_asked = ""  # the last adopted order a look asked the status of
        self._venue_reads = asyncio.Lock()  # a mass status that sets positions, and trade capture windows

    async def mass_status(self) -> list[ExecutionReport]:
        """Mass status, retried until the venue answers (waits for the session if it dropped)."""
        timeout = max(2.0, 3 * self._config.order_ack_timeout_s)
        while True:
            session = self._session()
            if session is None:
                raise NotSent("no session")
            if not session.logged_on:
                await session.wait_logged_on()
            try:
                return await self._gateway.mass_status(timeout)
            except (TimeoutError, NotSent) as err:
                log.warning("mass status failed (%s); retrying", err)
                await asyncio.sleep(self._config.logon_retry_initial_s)

    async def sync_out_of_band_state(self, adopt_orders: bool, retry: bool = True) -> bool:
        """Adopt what the stream does not carry: risk limits (and resting orders) from the database.

        Each host of the DSN is asked with its own connect bound for the writable primary;
        ``retry``: until ``db_sync_deadline_s`` (else one pass). False (alert
        ``OutOfBandSyncFailed``) when no primary answered: nothing was adopted.
        """
        config = self._config
        policy = PrimaryPolicy(connect_timeout_s=config.db_connect_timeout_s, retry=retry,
                               deadline_s=config.db_sync_deadline_s if retry else DB_TIMEOUT_S)
        try:
            state = await load_out_of_band_state(config.database_dsn, policy)
        except DB_ERRORS as err:
            log.error("out-of-band state sync failed: %s", err)
            self._alert(OUT_OF_BAND_SYNC_FAILED, {"error": f"{type(err).__name__}: {err}",
                                                  "deadline_s": policy.deadline_s})
            return False
        self._risk.replace(state.risk_limits)
        adopted = [o for o in state.open_orders if adopt_orders and not self._book.knows(o.order_id)]
        for order in adopted:
            self._book.add_order(order)
            log_order("order_adopted", "open order adopted from the database", order)
        log.info("synced %d risk limit(s) and adopted %d open order(s) from the database",
                 len(state.risk_limits), len(adopted))
        return True

    async def reconcile(self, source: SyncSource, checkpoint: Checkpoint | None = None) -> None:
        mark = self._book.booked
        reports = await self.mass_status()
        mirror_positions = self._book.positions if Defect.NO_FILL_RECONCILE in self._defects else None
        plan = plan_reconciliation(reports, self._book.known_orders(), self._instance, mirror_positions,
                                   adopt_known=True)
        venue_orders = real_reports(reports)
        self._gateway.import_reports(venue_orders)
        log_reconciled(self._book, venue_orders, source.value)
        for ghost in plan.ghosts:
            detail = {**report_detail(ghost), "action": "cancel", "source": source.value}
            self._alert(UNKNOWN_OPEN_ORDER, detail)
        cancels = [o for o in (self._book.get(r.cl_ord_id) for r in plan.to_cancel) if o is not None]
        results = await asyncio.gather(*(self._gateway.cancel(o) for o in cancels))
        failed = [o.order_id for o, r in zip(cancels, results, strict=True) if r.status != 200]
        if failed:
            self._spawn(self._cancel_until_done(failed), "ghost-cancels")
        if plan.to_cancel and mirror_positions is None:
            mark = self._book.booked
            venue_orders = real_reports(await self.mass_status())
            self._gateway.import_reports(venue_orders)
        if mirror_positions is None:
            self._book.replace_costed_positions(venue_positions(venue_orders, self._book.booked_since(mark)))
            self._recovery.arm(venue_orders)
        else:
            self._book.replace_positions(mirror_positions)
        if checkpoint is not None and checkpoint.lots() != self._book.positions:
            self._alert(CHECKPOINT_MISMATCH, {"checkpoint": checkpoint.lots(), "venue": self._book.positions})
        self._alert(PROMOTION_RECONCILED, {
            "venue_orders": len(venue_orders),
            "unknown_open_orders": [g.cl_ord_id for g in plan.ghosts],
            "orphan_canceled": [o.cl_ord_id for o in plan.orphans],
            "cancel_failed": failed,
            "positions": self._book.positions,
            "mirror_positions": mirror_positions,
            "source": "mirror" if mirror_positions is not None else "venue",
            "reason": source.value,
        })

    async def _cancel_until_done(self, order_ids: list[str]) -> None:
        """Cancels of unknown orders the venue did not confirm are resent until it does."""
        for _ in range(GHOST_CANCEL_ATTEMPTS):
            await asyncio.sleep(GHOST_CANCEL_RETRY_S)
            still_open = [o for o in map(self._book.get, order_ids) if o is not None and o.status.is_open]
            if not still_open:
                return
            await asyncio.gather(*(self._gateway.cancel(o) for o in still_open))
        log.error("gave up cancelling %s", order_ids)

    def adopted_open(self) -> bool:
        """Whether an order this instance took over from another instance is still open."""
        return any(order.instance != self._instance for order in self._book.open_orders())

    async def recover_executions(self, source: SyncSource) -> None:
        """After a promotion's reconciliation: book every execution of the firm the book never heard
        of (filled while no instance was logged on, or reported to a predecessor's session) as a live
        fill, so it reaches the database and the stream; the positions count each one once.

        Not at a start (nothing mirrored to compare with), nor with ``no-fill-reconcile`` (its
        positions are the mirror's, and the defect is that the venue's fills are never read).
        """
        if source is SyncSource.STARTUP or self._defects & RECOVERY_DEFECTS:
            return
        async with self._venue_reads:
            await self._recover(source.value, always_alert=True, ensure_stored=True)

    async def drop_copy_sweeps(self, live: Callable[[], bool]) -> None:
        """Every ``drop_copy_interval_s`` while ``live`` (active, allowed to send): read the venue's
        drop copy and book the executions of this book's orders whose reports never arrived (a dropped
        ExecutionReport); the report, should it come late, is then a duplicate the book ignores.
        Never with ``no-execution-recovery`` or ``no-fill-reconcile`` (the venue's fills never read)."""
        if self._defects & RECOVERY_DEFECTS:
            return
        while True:
            await asyncio.sleep(self._config.drop_copy_interval_s)
            if live():
                async with self._venue_reads:
                    await self._recover("drop copy", always_alert=False, known_orders_only=True)

    async def _recover(self, reason: str, *, always_alert: bool, ensure_stored: bool = False,
                       known_orders_only: bool = False) -> bool:
        """One trade capture window, booked; False (logged, alerted on a promotion) when it failed."""
        try:
            recovered = await self._recovery.recover(2 * max(2.0, 3 * self._config.order_ack_timeout_s),
                                                     ensure_stored=ensure_stored,
                                                     known_orders_only=known_orders_only)
        except RECOVERY_ERRORS as err:
            error = f"{type(err).__name__}: {err}"
            log.log(logging.ERROR if always_alert else logging.WARNING, "executions not recovered (%s): %s",
                    reason, error)
            if always_alert:
                self._alert(EXECUTION_RECOVERY_FAILED, {"error": error, "reason": reason})
            return False
        if recovered.booked:
            log.info("recovered %d execution(s) (%s)", len(recovered.booked), reason)
        if recovered.booked or always_alert:
            self._alert(EXECUTIONS_RECOVERED, {**recovered.detail(), "reason": reason,
                                               "positions": self._book.positions})
        return True

    async def resync(self) -> None:
        """After a reconnect the venue does not replay missed reports: re-read its truth once (mass
        status: orders and positions), then book the executions missed meanwhile."""
        fill_reconcile = Defect.NO_FILL_RECONCILE not in self._defects
        await self._reread_venue(positions=fill_reconcile, recover=fill_reconcile)

    async def _reread_venue(self, *, positions: bool, recover: bool) -> None:
        """One mass status: every order's state; the positions it implies (``positions``); then the
        executions missed meanwhile (``recover``)."""
        async with self._venue_reads:
            mark = self._book.booked
            try:
                reports = real_reports(await self.mass_status())
            except NotSent:
                return
            self._gateway.import_reports(reports)
            if positions:
                self._book.replace_costed_positions(venue_positions(reports, self._book.booked_since(mark)))
            if recover:
                self._recovery.arm(reports)
                await self._recover("reconnect", always_alert=False)

    def _next_adopted_to_ask(self) -> list[Order]:
        """At most ``STATUS_REQUESTS_PER_LOOK`` open adopted orders, in turn: the work of one look is
        bounded whatever the predecessor left open (fills on the others arrive by trade capture)."""
        adopted = sorted((o for o in self._book.open_orders() if o.instance != self._instance),
                         key=lambda order: order.order_id)
        if len(adopted) <= STATUS_REQUESTS_PER_LOOK:
            self._last_asked = ""
            return adopted
        turn = [o for o in adopted if o.order_id > self._last_asked]
        turn += [o for o in adopted if o.order_id <= self._last_asked]
        chosen = turn[:STATUS_REQUESTS_PER_LOOK]
        self._last_asked = chosen[-1].order_id
        return chosen

    async def follow_adopted(self) -> None:
        """What changed for the orders taken over from a predecessor, at the cost of what changed:
        an OrderStatusRequest per such order still open, then the executions since the last one seen
        (a predecessor that is slow rather than dead still gets their reports). Never a mass status.

        The status first: an order it shows done has no execution after the trade capture window.
        Defect ``no-execution-recovery``: the old way, the whole day's mass status each time, its
        positions taken and no execution booked.
        """
        if Defect.NO_EXECUTION_RECOVERY in self._defects:
            await self._reread_venue(positions=True, recover=False)
            return
        async with self._venue_reads:
            adopted = self._next_adopted_to_ask()
            answers = await asyncio.gather(
                *(self._gateway.order_status(o, self._config.order_ack_timeout_s) for o in adopted),
                return_exceptions=True)
            known = [a for a in answers if isinstance(a, ExecutionReport) and a.ord_status is not None
                     and a.ord_status is not OrderStatus.REJECTED]  # 39=8 here: the venue lost the order
            self._gateway.import_reports(known)
            if Defect.NO_FILL_RECONCILE not in self._defects:
                await self._recover("adopted orders", always_alert=False)

    async def load_checkpoint(self) -> Checkpoint | None:
        try:
            return await load_checkpoint(self._config.database_dsn, self._instance, DB_TIMEOUT_S)
        except DB_ERRORS as err:
            log.error("checkpoint not loaded: %s", err)
            return None

    async def restore_positions(self) -> Restored | None:
        """Positions from the database, checked against the venue's mass status (the venue wins)."""
        try:
            stored: dict[str, Position] | None = await load_positions(self._config.database_dsn, DB_TIMEOUT_S)
        except DB_ERRORS as err:
            log.error("positions not loaded from the database: %s", err)
            stored = None
        mark = self._book.booked
        try:
            async with asyncio.timeout(max(2.0, 3 * self._config.order_ack_timeout_s)):
                reports: list[ExecutionReport] | None = real_reports(await self.mass_status())
        except (TimeoutError, NotSent) as err:
            log.error("no mass status for the restore: %s", err)
            reports = None
        if reports is None:
            if stored is None:
                return None
            self._book.replace_costed_positions(stored)
            return Restored(self._book.positions, "database")
        self._gateway.import_reports(reports)
        venue = venue_positions(reports, self._book.booked_since(mark))
        if stored is not None and lots(stored) != lots(venue):
            self._alert(RESTORE_MISMATCH, {"db": lots(stored), "venue": lots(venue)})
        self._book.replace_costed_positions(venue)
        self._recovery.arm(reports)
        return Restored(self._book.positions, "venue")
