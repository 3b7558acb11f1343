"""The checker protocol: a pure function from a history to an :class:`Observation`."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from gameday.history import Op

__all__ = ["Checker", "NoopChecker", "Observation", "Unit", "observe"]


class Unit(StrEnum):
    SECONDS = "s"
    BPS = "bps"
    COUNT = "count"


class Observation(BaseModel):
    """What a checker read off a history.

    ``value`` is ``None`` when the evidence needed is absent (graded ``unknown``), unless
    ``unbounded`` says the quantity never completed within the history (e.g. the stack never
    recovered): that is graded as +infinity, so a ``max`` bound fails. ``error`` is set when
    the checker itself raised.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float | int | None
    unit: Unit
    evidence: dict[str, Any] = {}
    note: str = ""
    unbounded: bool = False
    error: str | None = None

    @classmethod
    def absent(cls, unit: Unit, note: str, **evidence: Any) -> Observation:
        """The evidence needed is not in the history."""
        return cls(value=None, unit=unit, note=note, evidence=evidence)


@runtime_checkable
class Checker(Protocol):
    """Reads one quantity off a history. Must not raise for absent evidence: return ``absent``."""

    @property
    def name(self) -> str: ...

    @property
    def unit(self) -> Unit: ...

    @property
    def description(self) -> str: ...

    def check(self, ops: Sequence[Op]) -> Observation: ...


class NoopChecker:
    """Observes nothing; always ``unknown``. Useful as a placeholder and in tests."""

    def __init__(self, name: str = "noop", unit: Unit = Unit.COUNT) -> None:
        self.name = name
        self.unit = unit
        self.description = "observes nothing"

    def check(self, ops: Sequence[Op]) -> Observation:
        return Observation.absent(self.unit, "the noop checker observes nothing")


def observe(checker: Checker, ops: Sequence[Op]) -> Observation:
    """Run a checker; a checker that raises yields an ``unknown`` observation with the error."""
    try:
        return checker.check(ops)
    except Exception as error:  # a crashing checker must never crash the run
        text = f"{type(error).__name__}: {error}"
        return Observation(value=None, unit=checker.unit, note=f"checker {checker.name} crashed", error=text)
