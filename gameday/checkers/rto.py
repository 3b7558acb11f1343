"""``rto.failover``: seconds from an outage fault until a trade succeeds on another instance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.checkers.base import Observation, Unit
from gameday.history import Op, OpKind, OpType

__all__ = ["FailoverRto"]

_OUTAGE_FAULTS = frozenset({"kill", "pause", "partition"})
_TRADE_PROBE = "probe-trade"


def _seconds(ns: int) -> float:
    return round(ns / 1e9, 6)


def _first_outage(ops: Sequence[Op]) -> Op | None:
    return next(
        (op for op in ops if op.kind == OpKind.FAULT and op.type == OpType.OK and op.f in _OUTAGE_FAULTS),
        None,
    )


def affected_services(fault: Op) -> frozenset[str]:
    """The services a fault takes out: its target, or both ends of its proxied hop."""
    target = fault.value.get("target")
    if isinstance(target, str):
        return frozenset({target})
    proxy = fault.value.get("proxy")
    if isinstance(proxy, str):
        return frozenset(part.strip() for part in proxy.split("->"))
    return frozenset()


def _last_trading_instance_before(ops: Sequence[Op], fault: Op) -> str | None:
    trades = [
        op for op in ops
        if op.process == _TRADE_PROBE and op.f == "trade" and op.type == OpType.OK and op.index < fault.index
    ]
    instance = trades[-1].value.get("instance") if trades else None
    return instance if isinstance(instance, str) else None


def _trade_completions_after(ops: Sequence[Op], fault: Op) -> list[Op]:
    return [
        op for op in ops
        if op.process == _TRADE_PROBE and op.f == "trade" and op.type != OpType.INVOKE
        and op.index > fault.index and op.t_ns >= fault.t_ns
    ]


class FailoverRto:
    name = "rto.failover"
    unit = Unit.SECONDS
    description = "seconds from the first outage fault until a trade probe succeeds on another instance"

    def check(self, ops: Sequence[Op]) -> Observation:
        fault = _first_outage(ops)
        if fault is None:
            return Observation.absent(self.unit, "no kill, pause or partition fault was applied in this run")
        affected = affected_services(fault)
        fault_evidence: dict[str, Any] = {
            "fault": fault.f,
            "fault_id": fault.value.get("fault_id"),
            "affected": sorted(affected),
            "fault_t_ns": fault.t_ns,
            "fault_wall": fault.wall,
        }
        trading_before = _last_trading_instance_before(ops, fault)
        if trading_before is not None and trading_before not in affected:
            return Observation.absent(
                self.unit,
                f"the outage took out {', '.join(sorted(affected))}, not {trading_before}, "
                "which was trading: there was no failover to time",
                **fault_evidence,
                trading_before=trading_before,
            )
        completions = _trade_completions_after(ops, fault)
        if not completions:
            return Observation.absent(self.unit, "no trade probe completed after the fault", **fault_evidence)
        failed: list[Op] = []
        for probe in completions:
            recovered = probe.type == OpType.OK and probe.value.get("instance") not in affected
            if recovered:
                return Observation(
                    value=_seconds(probe.t_ns - fault.t_ns),
                    unit=self.unit,
                    evidence={
                        **fault_evidence,
                        "recovered_t_ns": probe.t_ns,
                        "recovered_wall": probe.wall,
                        "recovered_instance": probe.value.get("instance"),
                        "failed_probes": len(failed),
                    },
                    note=f"trading resumed on {probe.value.get('instance')}",
                )
            if probe.type != OpType.OK:
                failed.append(probe)
        last = completions[-1]
        return Observation(
            value=None,
            unit=self.unit,
            unbounded=True,
            evidence={
                **fault_evidence,
                "failed_probes": len(failed),
                "probes_after_fault": len(completions),
                "last_probe_after_s": _seconds(last.t_ns - fault.t_ns),
                "last_probe_type": str(last.type),
                "last_probe_instance": last.value.get("instance"),
                "last_probe_error": last.value.get("error"),
            },
            note=(f"never recovered: none of {len(completions)} trade probes in the "
                  f"{_seconds(last.t_ns - fault.t_ns)} s after the fault succeeded on another instance"),
        )
