"""``failovers.count``: how many failovers the failover daemon confirmed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from gameday.checker_specs import FAILOVERS_COUNT, CheckerSpec
from gameday.checkers.base import Observation, Specified
from gameday.checkers.records import Decision, FailoverEvent, Reference, reference, sut_events
from gameday.history import Op

__all__ = ["FailoverCount"]


def _confirmation(event: FailoverEvent, ref: Reference) -> dict[str, Any]:
    return {
        "daemon": event.daemon,
        **ref.instant(event.t_ns),
        "reason": event.detail.reason,
        "failures": event.detail.failures_by_vantage,
        "vantages": event.detail.vantages,
    }


def _note(promotions: int, suppressed: int, decisions: Counter[Decision]) -> str:
    if promotions == 0 and suppressed == 0:
        seen = ", ".join(f"{decision} {count}" for decision, count in sorted(decisions.items()))
        return f"no failover confirmed (decisions: {seen})"
    note = f"{promotions} failover(s) confirmed"
    if suppressed:
        note += f"; {suppressed} confirmed failure(s) suppressed (promotion disabled)"
    return note


class FailoverCount(Specified):
    """Counts one daemon's confirmed failovers (``failover``: the OMS; ``db-failover``: Postgres)."""

    def __init__(self, spec: CheckerSpec = FAILOVERS_COUNT, daemon: str = "failover") -> None:
        self.spec = spec
        self.daemon = daemon
        self.description = (f"failovers the {daemon} daemon confirmed "
                            "(decision promote; suppressed ones listed apart)")

    def check(self, ops: Sequence[Op]) -> Observation:
        published = [event for event in sut_events(ops, "failover", FailoverEvent)
                     if event.daemon == self.daemon]
        if not published:
            return Observation.absent(self.unit, f"the {self.daemon} daemon published no decision")
        events = [event for event in published if not event.heartbeat] or published[-1:]
        ref = reference(ops)
        promotions = [_confirmation(event, ref) for event in events if event.decision is Decision.PROMOTE]
        suppressed = [_confirmation(event, ref) for event in events if event.decision is Decision.SUPPRESSED]
        decisions = Counter(event.decision for event in events)
        return Observation(
            value=len(promotions),
            unit=self.unit,
            evidence={
                "reference": ref.describe(),
                "promotions": promotions,
                "suppressed": suppressed,
                "decisions": {str(decision): count for decision, count in sorted(decisions.items())},
                "daemons": sorted({event.daemon for event in events}),
            },
            note=_note(len(promotions), len(suppressed), decisions),
        )
