"""``orders.sent_without_lease``: orders the venue received from an instance that did not hold the lease.

Who sent each order is the ledger's attribution (SenderSubID, else the ClOrdID prefix); an order
counts as sent at the instant the venue received it (``received_ns``, the history's clock).

Who held the lease when is read, first, from the lease's own writes as the bucket stored them
(``sut`` ops ``lease``; gameday.checkers.lease_writes): an instance holds it while the key's
latest write is its own create or update and younger than the bucket TTL. An instance that lost
its lease and keeps sending (it never says so) is caught there. Orders received before the first
write recorded are not judged (``unjudged`` in the evidence).

When no lease write was recorded (a stack that declares no lease bucket), from the role changes
the OMS publishes (``oms.roles``, each with its lease epoch): an instance holds the lease from the
moment it says it is ``active`` until it says it is anything else, or another instance says it is
``active`` under an epoch at least as high (a claim under a lower epoch is stale and changes
nothing). Before the first ``active`` event, the holder is the one instance the first health
sample shows active, when there is exactly one (its start-up event may predate the recording).
``evidence["lease_evidence"]`` says which was read.

Deliberately lenient where the history cannot tell: with writes, a write's TTL counts from its
receipt by the harness (the latest it can have been stored) and a write sent before an order may
already have been stored; with roles, the lease changes hands a little before the new holder
announces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from gameday.checker_specs import ORDERS_SENT_WITHOUT_LEASE
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import LedgerOrder, ledger_snapshot
from gameday.checkers.lease_writes import LeaseLog, lease_log
from gameday.checkers.records import Reference, SutEvent, reference, sut_events
from gameday.history import Op, OpKind, OpType

__all__ = ["LeaseEvidence", "RoleEvent", "SentWithoutLease", "Tenure", "tenures"]

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


def _health_actives(ops: Sequence[Op]) -> set[str]:
    """Every instance some health sample showed active."""
    found: set[str] = set()
    for op in ops:
        if op.kind == OpKind.PROBE and op.process == HEALTH_PROBE and op.type == OpType.OK:
            instances = op.value.get("instances")
            if isinstance(instances, dict):
                found.update(name for name, state in instances.items()
                             if isinstance(state, dict) and state.get("role") == ACTIVE)
    return found


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


class LeaseEvidence(StrEnum):
    """What the lease history was read from."""

    WRITES = "lease writes"
    ROLES = "oms.roles"


@dataclass(frozen=True)
class Offence:
    """An order sent without the lease, and what the lease history says of that instant."""

    order: LedgerOrder
    holder: str | None
    reason: str | None = None
    own_last_write_ns: int | None = None


class SentWithoutLease(Specified):
    spec = ORDERS_SENT_WITHOUT_LEASE
    description = "orders the venue received from an instance that did not hold the lease at that time"

    def check(self, ops: Sequence[Op]) -> Observation:
        ledger = ledger_snapshot(ops)
        if ledger is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        attributed = sorted((order for order in ledger.orders if order.instance is not None),
                            key=lambda order: order.received_ns)
        if not attributed:
            return Observation.absent(self.unit, "the ledger holds no attributed orders")
        ref = reference(ops)
        common = {"reference": ref.describe(), "orders": len(attributed),
                  "unattributed_orders": len(ledger.orders) - len(attributed)}
        log = lease_log(ops)
        if log is not None:
            return self._from_writes(attributed, log, ref, common)
        if not sut_events(ops, "roles", RoleEvent) and len(_health_actives(ops)) > 1:
            # Health samples show the active instance changed; without role events nothing says when.
            return Observation.absent(self.unit, "no lease history: no lease write recorded and no "
                                                 "oms.roles event, and the health samples show more than one "
                                                 "active instance (needs the stack's NATS events)")
        held, stale = tenures(ops)
        if not held:
            return Observation.absent(self.unit, "no lease history: no lease write recorded, no oms.roles "
                                                 "event and no health sample showing one active instance")
        holders_at = ((order, _holder_at(held, order.received_ns)) for order in attributed)
        offending = [Offence(order, None if holder is None else holder.instance)
                     for order, holder in holders_at if holder is None or holder.instance != order.instance]
        evidence = {**common, "lease_evidence": LeaseEvidence.ROLES.value,
                    "tenures": [_tenure(tenure, ref) for tenure in held],
                    "stale_active_claims": [{"instance": event.instance, "epoch": event.epoch,
                                             **ref.instant(event.t_ns)} for event in stale]}
        holders = " then ".join(tenure.instance for tenure in held)
        return self._observe(offending, len(attributed), evidence, ref, holders)

    def _from_writes(self, attributed: Sequence[LedgerOrder], log: LeaseLog, ref: Reference,
                     common: dict[str, Any]) -> Observation:
        offending: list[Offence] = []
        unjudged = 0
        for order in attributed:
            judgement = log.judge(str(order.instance), order.received_ns)
            if judgement is None:
                unjudged += 1
            elif not judgement.held:
                own = judgement.own_last
                offending.append(Offence(order, judgement.holder, None if judgement.loss is None
                                         else judgement.loss.value, None if own is None else own.received_ns))
        spans = log.spans(ref)
        evidence = {**common, "lease_evidence": LeaseEvidence.WRITES.value, "lease": log.describe(),
                    "holders": spans, "unjudged": unjudged}
        holders = " then ".join(str(span["instance"]) for span in spans if "instance" in span)
        return self._observe(offending, len(attributed), evidence, ref, holders or "none")

    def _observe(self, offending: Sequence[Offence], orders: int, evidence: dict[str, Any], ref: Reference,
                 holders: str) -> Observation:
        by_instance: dict[str, int] = {}
        for offence in offending:
            by_instance[str(offence.order.instance)] = by_instance.get(str(offence.order.instance), 0) + 1
        evidence = {**evidence, "by_instance": by_instance,
                    "listed": [_offence(offence, ref) for offence in offending[:MAX_LISTED_ORDERS]]}
        note = f"every order came from the lease holder ({holders})"
        if offending:
            note = (f"{len(offending)} of {orders} orders sent without the lease "
                    f"({', '.join(f'{name}: {count}' for name, count in sorted(by_instance.items()))})")
        return Observation(value=len(offending), unit=self.unit, evidence=evidence, note=note)


def _tenure(tenure: Tenure, ref: Reference) -> dict[str, Any]:
    return {"instance": tenure.instance, "epoch": tenure.epoch, "source": tenure.source,
            "from": None if tenure.start_ns is None else ref.instant(tenure.start_ns),
            "to": None if tenure.end_ns is None else ref.instant(tenure.end_ns)}


def _offence(offence: Offence, ref: Reference) -> dict[str, Any]:
    order = offence.order
    listed: dict[str, Any] = {"cl_ord_id": order.cl_ord_id, "instance": order.instance,
                              "symbol": order.symbol, "received": ref.instant(order.received_ns),
                              "holder": offence.holder}
    if offence.reason is not None:
        listed["reason"] = offence.reason
        listed["own_last_write"] = (None if offence.own_last_write_ns is None
                                    else ref.instant(offence.own_last_write_ns))
    return listed
