"""``rto.failover``: seconds from an outage fault until trading resumes on another instance, for good.

The anchor is the fault an expectation names (``from: <fault id>``), else the scenario's first
outage fault (kill, pause, partition) that takes out the instance that was trading. Faults
scheduled at one instant are ordered by the scenario's schedule, then kind and target, never by
the order they are listed or happened to be applied in.

Recovery is the first successful trade probe on an instance the fault spared, *sustained*: probes
keep succeeding for ``hold`` (default 2 s) after it, confirmed by a success at least ``hold``
later with no failure in between. A failure inside the hold is "recovered then lost"; the RTO is
then measured to the start of the next sustained run, and is unbounded (a failed ``max``) when
trading never came back for good. When the probes end before a hold could be confirmed, the RTO
is unknown, unless trading had already been lost once. Probes the venue refused because it
halted their symbol are the venue's state and are left out (:mod:`gameday.checkers.trade_probes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gameday.checker_specs import RTO_FAILOVER
from gameday.checkers.base import GradingContext, Observation, Specified, Unit
from gameday.checkers.records import OUTAGE_FAULTS, seconds
from gameday.checkers.trade_probes import Attempt, attempts, counted
from gameday.history import Op, OpKind, OpType

__all__ = ["DEFAULT_HOLD_NS", "FailoverRto", "affected_services"]

DEFAULT_HOLD_NS = 2_000_000_000
_KIND_RANK = {"kill": 0, "pause": 1, "partition": 2}
MAX_LISTED_LOSSES = 10


def affected_services(fault: Op) -> frozenset[str]:
    """The services a fault takes out: its target, or both ends of its proxied hop."""
    target = fault.value.get("target")
    if isinstance(target, str):
        return frozenset({target})
    proxy = fault.value.get("proxy")
    if isinstance(proxy, str):
        return frozenset(part.strip() for part in proxy.split("->"))
    return frozenset()


def _applied_outages(ops: Sequence[Op]) -> list[Op]:
    return [op for op in ops if op.kind == OpKind.FAULT and op.type == OpType.OK and op.f in OUTAGE_FAULTS]


def _in_schedule_order(faults: list[Op], context: GradingContext) -> list[Op]:
    """By the scenario's schedule when every fault is in it (deterministic at one instant), else as
    applied."""
    scheduled = [context.scheduled(fault.value.get("fault_id")) for fault in faults]
    if faults and all(entry is not None for entry in scheduled):
        def key(pair: tuple[Op, Any]) -> tuple[int, int, tuple[str, ...], str]:
            fault, entry = pair
            return (entry.at_ns, _KIND_RANK.get(fault.f, len(_KIND_RANK)),
                    tuple(sorted(affected_services(fault))), str(entry.fault_id))
        return [fault for fault, _ in sorted(zip(faults, scheduled, strict=True), key=key)]
    return sorted(faults, key=lambda fault: (fault.t_ns, fault.index))


def _trading_before(found: Sequence[Attempt], fault: Op) -> str | None:
    before = [attempt for attempt in found if attempt.ok and attempt.index < fault.index]
    return before[-1].instance if before else None


@dataclass(frozen=True)
class _Anchor:
    fault: Op
    chosen_by: str
    trading_before: str | None


def _anchor(ops: Sequence[Op], found: Sequence[Attempt], context: GradingContext) -> _Anchor | Observation:
    outages = _applied_outages(ops)
    if context.anchor is not None:
        named = next((op for op in outages if op.value.get("fault_id") == context.anchor), None)
        if named is None:
            return Observation.absent(Unit.SECONDS, f"the fault {context.anchor} the RTO is measured from "
                                                    "was not applied as an outage in this run")
        scheduled = context.scheduled(context.anchor)
        chosen = f"from: {scheduled.name} ({context.anchor})" if scheduled and scheduled.name else \
            f"from: {context.anchor}"
        return _Anchor(named, chosen, _trading_before(found, named))
    if not outages:
        return Observation.absent(Unit.SECONDS, "no kill, pause or partition fault was applied in this run")
    spared: list[dict[str, Any]] = []
    for fault in _in_schedule_order(outages, context):
        trading = _trading_before(found, fault)
        if trading is None or trading in affected_services(fault):
            return _Anchor(fault, "first outage of the instance that was trading", trading)
        spared.append({"fault_id": fault.value.get("fault_id"), "affected": sorted(affected_services(fault)),
                       "trading_before": trading})
    names = ", ".join(sorted({name for entry in spared for name in entry["affected"]}))
    trading_names = ", ".join(sorted({str(entry["trading_before"]) for entry in spared}))
    return Observation.absent(
        Unit.SECONDS,
        f"the outages took out {names}, not {trading_names}, which was trading: "
        "there was no failover to time",
        spared=spared, trading_before=spared[0]["trading_before"],
    )


@dataclass(frozen=True)
class _Loss:
    recovered: Attempt
    lost: Attempt


@dataclass
class _Walk:
    """Where trading stood after the anchor: the sustained recovery, if any, and the losses before it."""

    losses: list[_Loss] = field(default_factory=list)
    recovered: Attempt | None = None
    confirmed: Attempt | None = None


def _walk(after: Sequence[Attempt], affected: frozenset[str], hold_ns: int) -> _Walk:
    walk = _Walk()
    start = 0
    while True:
        first = next((n for n in range(start, len(after))
                      if after[n].ok and after[n].instance not in affected), None)
        walk.recovered = None if first is None else after[first]
        if first is None or walk.recovered is None:
            return walk
        recovered = walk.recovered
        if hold_ns <= 0:
            walk.confirmed = recovered
            return walk
        lost_at = None
        for n in range(first + 1, len(after)):
            if not after[n].ok:
                lost_at = n
                break
            if after[n].t_ns - recovered.t_ns >= hold_ns:
                walk.confirmed = after[n]
                return walk
        if lost_at is None:
            return walk  # the probes ended inside the hold
        walk.losses.append(_Loss(recovered, after[lost_at]))
        start = lost_at


class FailoverRto(Specified):
    spec = RTO_FAILOVER
    description = ("seconds from an outage fault until trade probes succeed on another instance and keep "
                   "succeeding for the hold time")

    def check(self, ops: Sequence[Op]) -> Observation:
        return self.check_in(ops, GradingContext())

    def check_in(self, ops: Sequence[Op], context: GradingContext) -> Observation:
        found = counted(attempts(ops))
        anchor = _anchor(ops, found, context)
        if isinstance(anchor, Observation):
            return anchor
        fault = anchor.fault
        hold_ns = DEFAULT_HOLD_NS if context.hold_ns is None else context.hold_ns
        affected = affected_services(fault)
        scheduled = context.scheduled(fault.value.get("fault_id"))
        base: dict[str, Any] = {
            "fault": fault.f, "fault_id": fault.value.get("fault_id"),
            "fault_name": None if scheduled is None else scheduled.name, "anchor": anchor.chosen_by,
            "affected": sorted(affected), "fault_t_ns": fault.t_ns, "fault_wall": fault.wall,
            "trading_before": anchor.trading_before, "hold_s": seconds(hold_ns),
        }
        after = [attempt for attempt in found if attempt.index > fault.index and attempt.t_ns >= fault.t_ns]
        if not after:
            return Observation.absent(self.unit, "no trade probe completed after the fault", **base)
        walk = _walk(after, affected, hold_ns)
        since = _Since(fault.t_ns)
        base["losses"] = [since.loss(loss) for loss in walk.losses[:MAX_LISTED_LOSSES]]
        base["lost_after_recovery"] = len(walk.losses)
        if walk.confirmed is not None and walk.recovered is not None:
            return self._sustained(walk.recovered, walk.confirmed, after, base, since, len(walk.losses))
        if walk.recovered is not None and not walk.losses:
            last = after[-1]
            return Observation.absent(
                self.unit,
                f"trading resumed on {walk.recovered.instance} {since.s(walk.recovered)} s after the fault, "
                f"but the probes ended {seconds(last.t_ns - walk.recovered.t_ns)} s later, "
                f"before the hold of {seconds(hold_ns)} s could be confirmed",
                **base, recovered_after_s=since.s(walk.recovered), recovered_instance=walk.recovered.instance,
            )
        return self._never(after, walk, base, since)

    def _sustained(self, recovered: Attempt, confirmed: Attempt, after: Sequence[Attempt],
                   base: dict[str, Any], since: _Since, losses: int) -> Observation:
        failed = sum(1 for attempt in after if not attempt.ok and attempt.t_ns < recovered.t_ns)
        note = f"trading resumed on {recovered.instance} and held"
        if losses:
            note = (f"recovered then lost {losses} time(s); trading came back for good on "
                    f"{recovered.instance} {since.s(recovered)} s after the fault")
        return Observation(
            value=since.s(recovered),
            unit=self.unit,
            evidence={**base, "recovered_t_ns": recovered.t_ns, "recovered_wall": recovered.wall,
                      "recovered_instance": recovered.instance, "failed_probes": failed,
                      "held_until_after_s": since.s(confirmed)},
            note=note,
        )

    def _never(self, after: Sequence[Attempt], walk: _Walk, base: dict[str, Any],
               since: _Since) -> Observation:
        last = after[-1]
        failed = sum(1 for attempt in after if not attempt.ok)
        evidence = {**base, "failed_probes": failed, "probes_after_fault": len(after),
                    "last_probe_after_s": since.s(last), "last_probe_type": "ok" if last.ok else "fail",
                    "last_probe_instance": last.instance, "last_probe_error": last.error}
        if walk.losses:
            first = walk.losses[0]
            note = (f"recovered then lost: trading resumed on {first.recovered.instance} "
                    f"{since.s(first.recovered)} s after the fault and was lost {since.s(first.lost)} s "
                    f"after it ({first.lost.error or 'probe failed'})")
            if walk.recovered is not None:
                note += (f"; it came back on {walk.recovered.instance} {since.s(walk.recovered)} s after the "
                         "fault, too late in the run to confirm the hold")
            else:
                note += "; it never came back for good"
        else:
            note = (f"never recovered: none of {len(after)} trade probes in the {since.s(last)} s after the "
                    "fault succeeded on another instance")
        return Observation(value=None, unit=self.unit, unbounded=True, evidence=evidence, note=note)


@dataclass(frozen=True)
class _Since:
    """Seconds after the anchor fault."""

    t0_ns: int

    def s(self, attempt: Attempt) -> float:
        return seconds(attempt.t_ns - self.t0_ns)

    def loss(self, loss: _Loss) -> dict[str, Any]:
        return {"recovered_instance": loss.recovered.instance, "recovered_after_s": self.s(loss.recovered),
                "lost_after_s": self.s(loss.lost), "lost_error": loss.lost.error}
