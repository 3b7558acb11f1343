"""The deployment game days' checkers (docs/deploy.md §6), for the default registry."""

from __future__ import annotations

from gameday.checkers.base import Checker
from gameday.checkers.breaker import EntriesAfterHalt, TimeToFlat, TimeToHalt
from gameday.checkers.deploy import CutoverDone, CutoverGap, LiveVersions, RollbackTime
from gameday.checkers.deploy_window import InMarketHours
from gameday.checkers.divergence import PositionDivergence
from gameday.checkers.rollback import RollbackToFlat
from gameday.checkers.verifier import DivergenceCaught, FalseClean

__all__ = ["deployment_checkers"]


def deployment_checkers() -> tuple[Checker, ...]:
    return (
        LiveVersions(),
        CutoverGap(),
        CutoverDone(),
        RollbackTime(),
        RollbackToFlat(),
        InMarketHours(),
        PositionDivergence(),
        FalseClean(),
        DivergenceCaught(),
        TimeToHalt(),
        TimeToFlat(),
        EntriesAfterHalt(),
    )
