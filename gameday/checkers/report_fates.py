"""``reports.dropped`` / ``reports.duplicated`` / ``reports.delayed``: what the venue did to its reports.

The mock venue counts each execution report an ``execution_reports`` fault dropped, sent twice or
held back (its ledger's ``report_fates``). A scenario that grades how an OMS copes with disturbed
reports bounds these from below, so a pass cannot come from a fault that never touched a report.
A venue that keeps no such count (another target's) reads unknown, never 0.
"""

from __future__ import annotations

from collections.abc import Sequence

from gameday.checker_specs import REPORT_FATE_SPECS
from gameday.checkers.base import Observation, Specified
from gameday.checkers.evidence import last_op
from gameday.history import Op, OpKind

__all__ = ["ReportFateCount", "report_fate_checkers"]

FATES = {"dropped": "drop", "duplicated": "duplicate", "delayed": "delay"}


class ReportFateCount(Specified):
    def __init__(self, fate: str) -> None:
        self.spec = REPORT_FATE_SPECS[fate]
        self._key = FATES[fate]
        self.description = f"execution reports the venue {fate} under an execution_reports fault (its ledger)"

    def check(self, ops: Sequence[Op]) -> Observation:
        snapshot = last_op(ops, OpKind.LEDGER, "snapshot")
        if snapshot is None:
            return Observation.absent(self.unit, "no ledger snapshot in the history")
        fates = snapshot.value.get("report_fates")
        count = fates.get(self._key) if isinstance(fates, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return Observation.absent(self.unit, "the venue's ledger keeps no count of report fates",
                                      report_fates=fates)
        return Observation(value=count, unit=self.unit, evidence={"report_fates": fates},
                           note=f"{count} report(s) {self.name.removeprefix('reports.')} by the venue")


def report_fate_checkers() -> tuple[ReportFateCount, ...]:
    return tuple(ReportFateCount(fate) for fate in FATES)
