"""``orders.client_failed`` / ``orders.client_unknown``: how the workload's order placements ended."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from gameday.checker_specs import CheckerSpec
from gameday.checkers.base import Observation, Specified
from gameday.history import Op, OpKind, OpType

__all__ = ["ClientOutcomeCount"]

MAX_LISTED_ERRORS = 5


class ClientOutcomeCount(Specified):
    """Counts client ``place`` operations that completed with one outcome (``fail`` or ``info``)."""

    def __init__(self, spec: CheckerSpec, outcome: OpType, description: str) -> None:
        self.spec = spec
        self.outcome = outcome
        self.description = description

    def check(self, ops: Sequence[Op]) -> Observation:
        places = [op for op in ops if op.kind == OpKind.CLIENT and op.f == "place"]
        invoked = sum(1 for op in places if op.type == OpType.INVOKE)
        if invoked == 0:
            return Observation.absent(self.unit, "the workload placed no orders")
        outcomes = Counter(str(op.type) for op in places if op.type != OpType.INVOKE)
        matching = [op for op in places if op.type == self.outcome]
        errors = Counter(str(op.value.get("error", op.value.get("status", "?"))) for op in matching)
        return Observation(
            value=len(matching),
            unit=self.unit,
            evidence={
                "invoked": invoked,
                "completed": dict(outcomes),
                "top_errors": dict(errors.most_common(MAX_LISTED_ERRORS)),
            },
            note=f"{len(matching)} of {invoked} placements ended {self.outcome}",
        )
