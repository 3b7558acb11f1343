"""Promotion reconciliation: what the venue says versus what this instance knows (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from trading_stack.book import positions_from_reports
from trading_stack.models import ExecutionReport, Order, OrderStatus


@dataclass(frozen=True)
class ReconciliationPlan:
    """Venue positions, and the open orders to cancel (ghosts raise UnknownOpenOrder)."""

    positions: dict[str, int]
    ghosts: list[ExecutionReport] = field(default_factory=list)
    orphans: list[ExecutionReport] = field(default_factory=list)
    kept: list[ExecutionReport] = field(default_factory=list)

    @property
    def to_cancel(self) -> list[ExecutionReport]:
        return [*self.ghosts, *self.orphans]


def real_reports(reports: Sequence[ExecutionReport]) -> list[ExecutionReport]:
    """Drop the placeholder report (37=NONE) the venue sends when it has no orders."""
    return [r for r in reports if r.order_id not in (None, "NONE") and r.cl_ord_id not in ("", "NONE")]


def owner_of(report: ExecutionReport) -> str | None:
    return report.owner_sub_id


def belongs_to(report: ExecutionReport, instance: str) -> bool:
    """Whether ``instance`` owns the order (TargetSubID echo, else the ClOrdID prefix)."""
    owner = owner_of(report)
    if owner:
        return owner == instance
    return report.cl_ord_id.startswith(f"{instance}-")


def plan_reconciliation(
    reports: Sequence[ExecutionReport],
    known: Mapping[str, Order],
    instance: str,
    mirror_positions: Mapping[str, int] | None = None,
    *,
    adopt_known: bool = False,
) -> ReconciliationPlan:
    """Classify the venue's orders.

    ``mirror_positions`` given (defect ``no-fill-reconcile``) replaces the venue positions.
    An open order nobody told us about is a ghost; an open order we know but that another
    session owns is an orphan, canceled unless ``adopt_known`` (the venue routes the reports of
    a dead session's orders to the firm's live session, so the successor can manage them).
    """
    orders = real_reports(reports)
    positions = dict(mirror_positions) if mirror_positions is not None else positions_from_reports(orders)
    ghosts: list[ExecutionReport] = []
    orphans: list[ExecutionReport] = []
    kept: list[ExecutionReport] = []
    for report in orders:
        if report.ord_status not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
            continue
        if report.cl_ord_id not in known:
            ghosts.append(report)
        elif not adopt_known and not belongs_to(report, instance):
            orphans.append(report)
        else:
            kept.append(report)
    return ReconciliationPlan(
        positions={s: q for s, q in positions.items() if q != 0}, ghosts=ghosts, orphans=orphans, kept=kept
    )
