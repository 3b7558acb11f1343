"""``run.stop_lines_crossed``: 1 when a stop line (``stop_when``) aborted the run, else 0.

A scenario whose correct stack never comes near its safety line writes ``run.stop_lines_crossed: 0``:
a defect that runs away crosses it and fails the expectation (the run is still graded, aborted).
Unknown when the history has no run start (the stack never came up).
"""

from __future__ import annotations

from collections.abc import Sequence

from gameday.checker_specs import RUN_STOP_LINES_CROSSED
from gameday.checkers.base import Observation, Specified
from gameday.history import STOP_F, Op, OpKind

__all__ = ["StopLinesCrossed"]


class StopLinesCrossed(Specified):
    spec = RUN_STOP_LINES_CROSSED
    description = "1 when a stop line (stop_when) was crossed and aborted the run, else 0"

    def check(self, ops: Sequence[Op]) -> Observation:
        runs = [op for op in ops if op.kind == OpKind.RUN]
        if not any(op.f == "start" for op in runs):
            return Observation.absent(self.unit, "the run never started: no stop line was watched")
        stop = next((op for op in runs if op.f == STOP_F), None)
        if stop is None:
            return Observation(value=0, unit=self.unit, note="no stop line was crossed")
        return Observation(value=1, unit=self.unit, evidence=dict(stop.value),
                           note=str(stop.value.get("reason", "a stop line was crossed")))
