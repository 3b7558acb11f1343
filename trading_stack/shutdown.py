"""Graceful SIGTERM of the active OMS (docs/deploy.md §2.4).

In order: stop taking orders (the caller sets its draining flag first), cancel every open
order at once — each cancel resent until the venue confirms it or the shutdown's cancel bound
runs out —, wait (bounded) for the venue to answer what is still outstanding, checkpoint
positions and the orders left open, and say what happened in one ``ShutdownComplete`` alert.
A cancel the venue never confirms is left to the successor's startup reconciliation.

Defect ``exit-on-sigterm``: none of it — the process stops at once and exits 0, its orders left
working at the venue and no checkpoint written (what a SIGTERM handler that only ends the event
loop does; systemd would not even restart it, the exit being clean).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from trading_stack.checkpoints import Checkpoint
from trading_stack.clock import MonotonicNs
from trading_stack.config import Defect, OmsConfig
from trading_stack.deploy.positions import Position
from trading_stack.gateway import PlaceResult
from trading_stack.models import Order

log = logging.getLogger(__name__)

SHUTDOWN_COMPLETE = "ShutdownComplete"
CANCEL_RETRY_S = 0.1
POLL_S = 0.02


class DrainHost(Protocol):
    """What a graceful stop needs of the OMS."""

    @property
    def instance(self) -> str: ...

    @property
    def pending_requests(self) -> int: ...

    def open_orders(self) -> list[Order]: ...

    def order(self, order_id: str) -> Order | None: ...

    def costed_positions(self) -> dict[str, Position]: ...

    async def cancel_order(self, order: Order) -> PlaceResult: ...

    async def save_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None: ...


@dataclass
class ShutdownReport:
    canceled: list[str] = field(default_factory=list)
    cancel_failed: list[str] = field(default_factory=list)
    checkpoint: bool = False

    def detail(self) -> dict[str, Any]:
        return {"canceled": self.canceled, "cancel_failed": self.cancel_failed, "checkpoint": self.checkpoint}


async def _cancel_until_done(host: DrainHost, order: Order) -> bool:
    """Resend the cancel until the venue confirms it; True once the order is no longer open."""
    while True:
        result = await host.cancel_order(order)
        current = host.order(order.order_id)
        if result.status == 200 or (current is not None and not current.status.is_open):
            return True
        await asyncio.sleep(CANCEL_RETRY_S)


async def cancel_open_orders(host: DrainHost, timeout_s: float) -> tuple[list[str], list[str]]:
    """Cancel every open order concurrently within ``timeout_s``: the order ids whose cancel the venue
    confirmed, and those still open (an order that filled meanwhile is in neither)."""
    orders = host.open_orders()
    tasks = {order.order_id: asyncio.create_task(_cancel_until_done(host, order)) for order in orders}
    if tasks:
        _done, pending = await asyncio.wait(tasks.values(), timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    canceled = [oid for oid, task in tasks.items() if not task.cancelled() and task.result()]
    still_open = [oid for oid in tasks if oid not in canceled and _is_open(host.order(oid))]
    return canceled, still_open


def _is_open(order: Order | None) -> bool:
    return order is not None and order.status.is_open


async def wait_quiet(host: DrainHost, timeout_s: float, clock: MonotonicNs) -> bool:
    """Wait until no request to the venue is outstanding; False when the bound ran out first."""
    deadline = clock() + int(timeout_s * 1e9)
    while host.pending_requests:
        if clock() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True


async def drain(host: DrainHost, cancel_timeout_s: float, fill_wait_s: float, clock: MonotonicNs
                ) -> ShutdownReport:
    """Steps 2-5 of the graceful stop; the caller has stopped taking orders (step 1)."""
    report = ShutdownReport()
    report.canceled, report.cancel_failed = await cancel_open_orders(host, cancel_timeout_s)
    log.info("shutdown: %d canceled, %d not confirmed", len(report.canceled), len(report.cancel_failed))
    if not await wait_quiet(host, fill_wait_s, clock):
        log.warning("shutdown: the venue still owes answers after %.1fs", fill_wait_s)
    checkpoint = Checkpoint.of(host.instance, clock(), host.costed_positions(), host.open_orders())
    try:
        await host.save_checkpoint(checkpoint)
        report.checkpoint = True
    except Exception as err:  # the database is down: the successor reconciles from the venue anyway
        log.error("shutdown: checkpoint not saved: %s: %s", type(err).__name__, err)
    host.alert(SHUTDOWN_COMPLETE, report.detail())
    return report


async def graceful_stop(host: DrainHost, config: OmsConfig, clock: MonotonicNs) -> ShutdownReport | None:
    """:func:`drain` within the configured bounds, unless the stack carries ``exit-on-sigterm``."""
    if Defect.EXIT_ON_SIGTERM in config.defects:
        log.warning("defect exit-on-sigterm: stopping at once, %d order(s) left open",
                    len(host.open_orders()))
        return None
    return await drain(host, config.shutdown_cancel_timeout_s, config.shutdown_fill_wait_s, clock)
