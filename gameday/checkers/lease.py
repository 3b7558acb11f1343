"""``orders.sent_without_lease``: orders the venue received from an instance that did not hold the lease.

Who sent each order is the ledger's attribution (SenderSubID, else the ClOrdID prefix). Who held
the lease when is read from the role changes the OMS publishes (``oms.roles``, each with its lease
epoch): an instance holds the lease from the moment it says it is ``active`` until it says it is
anything else, or another instance says it is ``active`` under an epoch at least as high (a claim
under a lower epoch is stale and changes nothing). Before the first ``active`` event, the holder is
the one instance the first health sample shows active, when there is exactly one (its start-up
event may predate the recording).

Deliberately lenient where the history cannot tell: the lease changes hands a little before the new
holder announces it, and an order counts as sent at the instant the venue received it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gameday.checkers.base import Observation, Unit
from gameday.checkers.evidence import LedgerOrder, ledger_snapshot
from gameday.checkers.records import Reference, SutEvent, reference, sut_events
from gameday.history import Op, OpKind, OpType

__all__ = ["RoleEvent", "SentWithoutLease", "Tenure", "tenures"]

ACTIVE = "active"
MAX_LISTED_ORDERS = 20
HEALTH_PROBE = "probe-health"


class RoleEvent(SutEvent):
    """One role change an instance published (``oms.roles``)."""

    instance: str
    role: str
    epoch: int = 0
    reason: str = ""


@dataclass(frozen=True)
class Tenure:
    """An instance holding the lease from ``start_ns`` (``None``: from before the history) to ``end_ns``."""

    instance: str
    epoch: int | None
    start_ns: int | None
    end_ns: int | None
    source: str

    def covers(self, t_ns: int) -> bool:
        started = self.start_ns is None or self.start_ns <= t_ns
        return started and (self.end_ns is None or t_ns < self.end_ns)


def _first_health_holder(ops: Sequence[Op]) -> tuple[str, int] | None:
    """The one instance the first health sample shows active, and the sample's time."""
    sample = next((op for op in sorted(ops, key=lambda op: (op.t_ns, op.index))
                   if op.kind == OpKind.PROBE and op.process == HEALTH_PROBE and op.type == OpType.OK), None)
    instances = None if sample is None else sample.value.get("instances")
    if sample is None or not isinstance(instances, dict):
        return None
    active = [name for name, state in instances.items()
              if isinstance(state, dict) and state.get("role") == ACTIVE]
    return (active[0], sample.t_ns) if len(active) == 1 else None


def tenures(ops: Sequence[Op]) -> tuple[list[Tenure], list[RoleEvent]]:
    """Who held the lease when, and the stale ``active`` claims (lower epoch than the holder's)."""
    events = sut_events(ops, "roles", RoleEvent)
    first_active = next((event.t_ns for event in events if event.role == ACTIVE), None)
    holder: Tenure | None = None
    initial = _first_health_holder(ops)
    if initial is not None and (first_active is None or initial[1] < first_active):
        holder = Tenure(initial[0], None, None, None, "first health sample")
    done: list[Tenure] = []
    stale: list[RoleEvent] = []

    def close(at_ns: int) -> None:
        nonlocal holder
        if holder is not None:
            done.append(Tenure(holder.instance, holder.epoch, holder.start_ns, at_ns, holder.source))
        holder = None

    for event in events:
        if event.role == ACTIVE:
            if holder is not None and holder.epoch is not None and event.epoch < holder.epoch:
                stale.append(event)
                continue
            if holder is not None and (holder.instance, holder.epoch) == (event.instance, event.epoch):
                continue
            close(event.t_ns)
            holder = Tenure(event.instance, event.epoch, event.t_ns, None, f"oms.roles: {event.reason}")
        elif holder is not None and holder.instance == event.instance:
            close(event.t_ns)
    if holder is not None:
        done.append(holder)
    return done, stale


def _holder_at(held: Sequence[Tenure], t_ns: int) -> Tenure | None:
    return next((tenure for tenure in held if tenure.covers(t_ns)), None)


class SentWithoutLease:
    name = "orders.sent_without_lease"
    unit = Unit.COUNT
    description = "orders the venue received from an instance that did not hold the lease at that time"

    def check(self, ops: Sequence[Op]) -> Observation:
        ledger = ledger_snapshot(ops)
        if ledger is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        attributed = [order for order in ledger.orders if order.instance is not None]
        if not attributed:
            return Observation.absent(self.unit, "the ledger holds no attributed orders")
        held, stale = tenures(ops)
        if not held:
            return Observation.absent(self.unit, "no lease history: no oms.roles event and no health sample "
                                                 "showing one active instance")
        ref = reference(ops)
        offending = [(order, _holder_at(held, order.received_ns))
                     for order in sorted(attributed, key=lambda order: order.received_ns)]
        offending = [(order, holder) for order, holder in offending
                     if holder is None or holder.instance != order.instance]
        by_instance: dict[str, int] = {}
        for order, _ in offending:
            by_instance[str(order.instance)] = by_instance.get(str(order.instance), 0) + 1
        evidence: dict[str, Any] = {
            "reference": ref.describe(),
            "tenures": [_tenure(tenure, ref) for tenure in held],
            "stale_active_claims": [{"instance": event.instance, "epoch": event.epoch,
                                     **ref.instant(event.t_ns)} for event in stale],
            "orders": len(attributed),
            "by_instance": by_instance,
            "listed": [_order(order, holder, ref) for order, holder in offending[:MAX_LISTED_ORDERS]],
            "unattributed_orders": len(ledger.orders) - len(attributed),
        }
        holders = " then ".join(tenure.instance for tenure in held)
        note = f"every order came from the lease holder ({holders})"
        if offending:
            note = (f"{len(offending)} of {len(attributed)} orders sent without the lease "
                    f"({', '.join(f'{name}: {count}' for name, count in sorted(by_instance.items()))})")
        return Observation(value=len(offending), unit=self.unit, evidence=evidence, note=note)


def _tenure(tenure: Tenure, ref: Reference) -> dict[str, Any]:
    return {"instance": tenure.instance, "epoch": tenure.epoch, "source": tenure.source,
            "from": None if tenure.start_ns is None else ref.instant(tenure.start_ns),
            "to": None if tenure.end_ns is None else ref.instant(tenure.end_ns)}


def _order(order: LedgerOrder, holder: Tenure | None, ref: Reference) -> dict[str, Any]:
    return {"cl_ord_id": order.cl_ord_id, "instance": order.instance, "symbol": order.symbol,
            "received": ref.instant(order.received_ns),
            "holder": None if holder is None else holder.instance}
