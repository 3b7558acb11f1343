"""Checkers that grade a premise found in the history first: a breaker's breach, a kill-switch trip,
the SIGTERMs sent to OMS instances.

Such a checker reads nothing until it finds its premise (the instant, the span, the stops its
quantity is measured from); without it, the quantity is unknown and the reason says which evidence
is missing. :class:`PremisedChecker` holds that shape once: a subclass says how to find the premise
(:meth:`~PremisedChecker.premise`) and how to grade once it is found (:meth:`~PremisedChecker.grade`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, TypeVar

from gameday.checkers.base import Observation, Specified
from gameday.checkers.ledger_timeline import LedgerTimeline, ledger_timeline
from gameday.history import Op

__all__ = ["NO_LEDGER", "PremisedChecker", "ledger_or_reason"]

PremiseT = TypeVar("PremiseT")

NO_LEDGER = "no ledger snapshot in the history"


class PremisedChecker(Specified, ABC, Generic[PremiseT]):
    """Finds its premise in the history, then grades it; unknown, with the reason, when it is absent.

    A premise is never a ``str``: :meth:`premise` answers a ``str`` only to say why there is none.
    """

    @abstractmethod
    def premise(self, ops: Sequence[Op]) -> PremiseT | str:
        """The premise this checker grades, or why the history holds none."""

    @abstractmethod
    def grade(self, premise: PremiseT, ops: Sequence[Op]) -> Observation: ...

    def check(self, ops: Sequence[Op]) -> Observation:
        found = self.premise(ops)
        if isinstance(found, str):
            return Observation.absent(self.unit, found)
        return self.grade(found, ops)


def ledger_or_reason(ops: Sequence[Op]) -> LedgerTimeline | str:
    """The venue's ledger as the history recorded it, or why there is none."""
    timeline = ledger_timeline(ops)
    return NO_LEDGER if timeline is None else timeline
