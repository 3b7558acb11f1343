"""``orders.before_ghosts_alerted``: orders a promoted instance sent before it had alerted every ghost.

Seed 002: "query the exchange for open orders before sending any new ones". A *promotion* is an
``oms.roles`` event in which an instance says it is ``active`` after having said anything else
(or nothing, or ``active`` under another lease epoch, or with a ``promoted`` reason: a restarted
instance keeps its name). Its *ghosts* are the open venue orders it did not know when it took
over:

- those it said it did not know: ``unknown_open_orders`` of its ``PromotionReconciled`` and every
  ``UnknownOpenOrder`` it raised during the promotion;
- those it never learned (for the instance active at the end, when its last promotion is graded):
  ledger orders open when the promotion began, still open at the end, and missing from its open
  orders in the final state — an instance that did not reconcile says nothing about them.

A promotion begins at the instance's first reconciliation alert (``UnknownOpenOrder``,
``PromotionReconciled``) since its previous role event, else at the role event, and lasts until its
next role change or next promotion. A ghost is alerted
by the instance's first ``UnknownOpenOrder`` naming it (``order_id`` = ClOrdID, or
``exchange_order_id`` = the venue's id). The value counts the orders the venue received from the
instance (the ledger's attribution: SenderSubID, else the ClOrdID prefix) from the start of the
promotion until its last ghost was alerted — until its next role change when one never was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gameday.checker_specs import ORDERS_BEFORE_GHOSTS_ALERTED
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import final_state
from gameday.checkers.lease import RoleEvent
from gameday.checkers.ledger_timeline import TimedOrder, ledger_timeline
from gameday.checkers.records import (
    Alert,
    AlertEvent,
    ReconciledDetail,
    Reference,
    UnknownOrderDetail,
    parse_value,
    reference,
    sut_events,
)
from gameday.history import Op

__all__ = ["OrdersBeforeGhostsAlerted", "Promotion", "promotions"]

ACTIVE = "active"
PROMOTED = "promoted"
MAX_LISTED = 20
_RECONCILIATION = frozenset({Alert.UNKNOWN_OPEN_ORDER.value, Alert.PROMOTION_RECONCILED.value})


@dataclass(frozen=True)
class Promotion:
    """``instance`` became active at ``active_ns``; its previous and next role events bound it."""

    instance: str
    reason: str
    began_ns: int
    active_ns: int
    until_ns: int | None

    def within(self, t_ns: int) -> bool:
        return self.began_ns <= t_ns and (self.until_ns is None or t_ns < self.until_ns)


def _is_promotion(event: RoleEvent, previous: RoleEvent | None) -> bool:
    if event.role != ACTIVE:
        return False
    return (previous is None or previous.role != ACTIVE or previous.epoch != event.epoch
            or event.reason.startswith(PROMOTED))


def _own_promotions(own: Sequence[RoleEvent], reconciling: Sequence[int]) -> list[Promotion]:
    """One instance's promotions: each begins at its first reconciliation alert since the instance's
    previous role event (else at the role event) and lasts until its next role change or promotion."""
    found: list[Promotion] = []
    ends: list[int | None] = []
    for index, event in enumerate(own):
        previous = own[index - 1] if index else None
        if not _is_promotion(event, previous):
            if event.role != ACTIVE and found and ends[-1] is None:
                ends[-1] = event.t_ns
            continue
        after = None if previous is None else previous.t_ns
        began = min((t_ns for t_ns in reconciling if (after is None or t_ns > after) and t_ns <= event.t_ns),
                    default=event.t_ns)
        if found and ends[-1] is None:
            ends[-1] = began
        found.append(Promotion(event.instance, event.reason, began, event.t_ns, None))
        ends.append(None)
    return [Promotion(promotion.instance, promotion.reason, promotion.began_ns, promotion.active_ns, end)
            for promotion, end in zip(found, ends, strict=True)]


def promotions(events: Sequence[RoleEvent], alerts: Sequence[AlertEvent]) -> list[Promotion]:
    """Every promotion in ``events`` (role events, time-ordered), by when it began."""
    found: list[Promotion] = []
    for instance in sorted({event.instance for event in events}):
        reconciling = [alert.t_ns for alert in alerts
                       if alert.instance == instance and alert.alert in _RECONCILIATION]
        found.extend(_own_promotions([event for event in events if event.instance == instance], reconciling))
    return sorted(found, key=lambda promotion: (promotion.began_ns, promotion.instance))


@dataclass(frozen=True)
class _Ghost:
    """An open venue order the promoted instance did not know, by ClOrdID (else the venue's id)."""

    key: str
    source: str


class _Grading:
    """One promotion against the alerts and the ledger."""

    def __init__(self, promotion: Promotion, alerts: Sequence[AlertEvent],
                 orders: Sequence[TimedOrder]) -> None:
        self.promotion = promotion
        own = [alert for alert in alerts
               if alert.instance == promotion.instance and promotion.within(alert.t_ns)]
        self.unknown = [alert for alert in own if alert.alert == Alert.UNKNOWN_OPEN_ORDER]
        before = [alert for alert in own
                  if alert.t_ns <= promotion.active_ns and alert.alert in _RECONCILIATION]
        self.reconciled = [alert for alert in before if alert.alert == Alert.PROMOTION_RECONCILED]
        self.start_ns = promotion.began_ns
        self.orders = orders
        self._cl_ord_ids = {order.order_id: order.cl_ord_id for order in orders}
        self._alerted: dict[str, int] = {}
        for alert in self.unknown:
            key = self._key(_unknown_detail(alert))
            if key is not None:
                self._alerted.setdefault(key, alert.t_ns)

    def _key(self, detail: UnknownOrderDetail) -> str | None:
        """The ClOrdID an alert names, or that the ledger gives its venue order id."""
        if detail.order_id is not None:
            return detail.order_id
        if detail.exchange_order_id is None:
            return None
        return self._cl_ord_ids.get(detail.exchange_order_id, detail.exchange_order_id)

    def stated(self) -> list[_Ghost]:
        ghosts: dict[str, _Ghost] = {}
        for alert in self.reconciled:
            where = f"the PromotionReconciled of {alert.instance}"
            reconciled = parse_value(ReconciledDetail, alert.detail, where)
            for cl_ord_id in reconciled.unknown_open_orders:
                ghosts.setdefault(cl_ord_id, _Ghost(cl_ord_id, "PromotionReconciled"))
        for key in self._alerted:
            ghosts.setdefault(key, _Ghost(key, "UnknownOpenOrder"))
        return list(ghosts.values())

    def never_known(self, known_at_end: set[str]) -> list[_Ghost]:
        start = self.start_ns
        return [_Ghost(order.cl_ord_id, "open at the venue, unknown at the end")
                for order in self.orders
                if order.open_at(start) and order.closed_ns is None and order.cl_ord_id not in known_at_end]

    def alerted_ns(self, ghost: _Ghost) -> int | None:
        return self._alerted.get(ghost.key)

    def sent_between(self, until_ns: int | None) -> list[TimedOrder]:
        return [order for order in self.orders
                if order.instance == self.promotion.instance and order.received_ns >= self.start_ns
                and (until_ns is None or order.received_ns < until_ns)
                and (self.promotion.until_ns is None or order.received_ns < self.promotion.until_ns)]


def _unknown_detail(alert: AlertEvent) -> UnknownOrderDetail:
    return parse_value(UnknownOrderDetail, alert.detail, f"the UnknownOpenOrder of {alert.instance}")


def _known_at_end(ops: Sequence[Op], instance: str) -> set[str] | None:
    """The open orders ``instance`` reported at the end, when it was the active one there."""
    state = final_state(ops)
    if state is None or state.active != instance:
        return None
    answers = state.instances.get(instance)
    if answers is None or answers.open_orders is None:
        return None
    return {order.order_id for order in answers.open_orders}


def _grade(grading: _Grading, known_at_end: set[str] | None, ref: Reference) -> dict[str, Any]:
    promotion = grading.promotion
    ghosts = {ghost.key: ghost for ghost in grading.stated()}
    if known_at_end is not None:
        for ghost in grading.never_known(known_at_end):
            ghosts.setdefault(ghost.key, ghost)
    alerted = {key: grading.alerted_ns(ghost) for key, ghost in ghosts.items()}
    unalerted = sorted(key for key, t_ns in alerted.items() if t_ns is None)
    times = [t_ns for t_ns in alerted.values() if t_ns is not None]
    all_alerted_ns = None if unalerted else max(times, default=grading.start_ns)
    sent = grading.sent_between(all_alerted_ns)
    return {
        "instance": promotion.instance, "reason": promotion.reason,
        "began": ref.instant(grading.start_ns), "active": ref.instant(promotion.active_ns),
        "ghosts": len(ghosts), "by_source": dict(Counter(ghost.source for ghost in ghosts.values())),
        "never_alerted": len(unalerted), "unalerted": unalerted[:MAX_LISTED],
        "all_alerted": None if all_alerted_ns is None else ref.instant(all_alerted_ns),
        "graded_against_final_state": known_at_end is not None,
        "orders_before": len(sent),
        "listed": [{"cl_ord_id": order.cl_ord_id, **ref.instant(order.received_ns)}
                   for order in sent[:MAX_LISTED]],
    }


def _offence(entry: dict[str, Any]) -> str:
    never = entry["never_alerted"]
    return (f"{entry['instance']} sent {entry['orders_before']} order(s) before alerting its "
            f"{entry['ghosts']} ghost(s)" + (f" ({never} never alerted)" if never else ""))


class OrdersBeforeGhostsAlerted(Specified):
    spec = ORDERS_BEFORE_GHOSTS_ALERTED
    description = ("orders a promoted instance sent before it had alerted UnknownOpenOrder for every open "
                   "venue order it did not know at the promotion")

    def check(self, ops: Sequence[Op]) -> Observation:
        timeline = ledger_timeline(ops)
        if timeline is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        alerts = sut_events(ops, "alerts", AlertEvent)
        if not alerts:
            return Observation.absent(self.unit, "no oms.alerts event recorded: whether ghosts were alerted "
                                                 "cannot be told")
        roles = sut_events(ops, "roles", RoleEvent)
        found = promotions(roles, alerts)
        if not found:
            return Observation.absent(self.unit, "no promotion in oms.roles (no instance said it was active)")
        ref = reference(ops)
        orders = timeline.sorted_orders()
        last = {promotion.instance: promotion for promotion in found}
        graded = []
        for promotion in found:
            final = last[promotion.instance] is promotion
            known_at_end = _known_at_end(ops, promotion.instance) if final else None
            graded.append(_grade(_Grading(promotion, alerts, orders), known_at_end, ref))
        offending = [entry for entry in graded if entry["orders_before"]]
        total = sum(entry["orders_before"] for entry in graded)
        note = (f"{len(found)} promotion(s); none sent an order before alerting its ghosts" if not offending
                else "; ".join(_offence(entry) for entry in offending))
        evidence = {"reference": ref.describe(), "promotions": graded[:MAX_LISTED]}
        return Observation(value=total, unit=self.unit, evidence=evidence, note=note)
