"""What a rollback left at the venue (seed 003: "canceling all open orders, flattening existing
positions" before the system is back in a known state).

- ``deploy.rollback_to_flat``: from the deployer starting its first rollback after a cutover (the
  ``rolling-back`` phase) to the first instant the venue's ledger shows every position of the firm
  at 0 with no order open; unbounded when there was still exposure when the rollback ended (its
  next phase event: ``rolled-back``, ``failed``) — flat later, with blue trading again, is not the
  rollback's doing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gameday.checker_specs import DEPLOY_ROLLBACK_TO_FLAT
from gameday.checkers.base import Observation, Specified
from gameday.checkers.breaker_ledger import first_flat
from gameday.checkers.deploy_records import Milestone, elapsed, first_milestone, phases
from gameday.checkers.ledger_timeline import ledger_timeline
from gameday.checkers.records import reference
from gameday.history import Op

__all__ = ["RollbackToFlat"]

ROLLING_BACK = "rolling-back"


class RollbackToFlat(Specified):
    spec = DEPLOY_ROLLBACK_TO_FLAT
    description = "rollback started -> every position 0 with no order open at the venue, before it ended"

    def check(self, ops: Sequence[Op]) -> Observation:
        events = phases(ops)
        done = first_milestone(events, Milestone.CUTOVER_DONE)
        if done is None:
            return Observation.absent(self.unit, "no cutover-done in the deploy timeline")
        started = next((e for e in events if e.phase == ROLLING_BACK and e.t_ns >= done.t_ns), None)
        if started is None:
            return Observation.absent(self.unit, "the deployer never started a rollback after the cutover")
        timeline = ledger_timeline(ops)
        if timeline is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        ended = next((e for e in events if e.t_ns >= started.t_ns and e.phase != ROLLING_BACK), None)
        flat_ns = first_flat(timeline, started.t_ns)
        ref = reference(ops)
        evidence: dict[str, Any] = {
            "reference": ref.describe(),
            "rollback_started": {"reason": started.reason, **ref.instant(started.t_ns)},
            "rollback_ended": None if ended is None else {"phase": ended.phase, "reason": ended.reason,
                                                          **ref.instant(ended.t_ns)},
            "flat": None if flat_ns is None else ref.instant(flat_ns),
        }
        if flat_ns is not None and ended is not None and flat_ns > ended.t_ns:
            flat_ns = None
        ending = "the end of the history" if ended is None else f"the rollback ended ({ended.phase})"
        return elapsed(started.t_ns, flat_ns, evidence,
                       done="flat with no open order {took}s into the rollback",
                       never=f"exposure (a position or an open order) left when {ending}")
