"""``replication.lag``: the largest replication lag a standby reported, in seconds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.checker_specs import REPLICATION_LAG
from gameday.checkers.base import Observation, Specified
from gameday.checkers.records import Reference, ReplicationSample, first_outage, reference, sut_events
from gameday.history import Op

__all__ = ["ReplicationLag"]


def _lag_s(sample: ReplicationSample) -> float:
    return round(sample.lag_ms / 1000, 6)


def _described(sample: ReplicationSample, ref: Reference) -> dict[str, Any]:
    return {"instance": sample.instance, "lag_s": _lag_s(sample), "backlog": sample.backlog,
            **ref.instant(sample.t_ns)}


def _before_outage(ops: Sequence[Op], samples: Sequence[ReplicationSample],
                   ref: Reference) -> dict[str, Any] | None:
    """The last sample taken before the first outage fault: the lag the failover started from."""
    fault = first_outage(ops)
    if fault is None:
        return None
    earlier = [sample for sample in samples if sample.t_ns < fault.t_ns]
    if not earlier:
        return None
    return {**_described(earlier[-1], ref), "fault": fault.f, "fault_id": fault.value.get("fault_id")}


class ReplicationLag(Specified):
    spec = REPLICATION_LAG
    description = "largest replication lag a standby reported (lag_ms / 1000)"

    def check(self, ops: Sequence[Op]) -> Observation:
        samples = sut_events(ops, "replication", ReplicationSample)
        if not samples:
            return Observation.absent(self.unit, "replication lag not recorded")
        ref = reference(ops)
        peak = max(samples, key=lambda sample: sample.lag_ms)
        return Observation(
            value=_lag_s(peak),
            unit=self.unit,
            evidence={
                "reference": ref.describe(),
                "peak": _described(peak, ref),
                "before_first_outage": _before_outage(ops, samples, ref),
                "samples": len(samples),
                "instances": sorted({sample.instance for sample in samples}),
            },
            note=(f"peak lag {_lag_s(peak)} s on {peak.instance} ({peak.backlog} behind), "
                  f"{len(samples)} samples"),
        )
