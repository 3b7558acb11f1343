"""The checker protocol: a pure function from a history to an :class:`Observation`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from gameday.checker_specs import CheckerSpec
from gameday.history import Op
from gameday.metrics import AlertRule, MetricQuery
from gameday.units import Unit

__all__ = [
    "Checker",
    "ContextualChecker",
    "GradingContext",
    "NoopChecker",
    "Observation",
    "ScheduledFault",
    "Specified",
    "Unit",
    "Window",
    "WindowKind",
    "observe",
]


class Observation(BaseModel):
    """What a checker read off a history.

    ``value`` is ``None`` when the evidence needed is absent (graded ``unknown``), unless
    ``unbounded`` says the quantity never completed within the history (e.g. the stack never
    recovered): that is graded as +infinity, so a ``max`` bound fails. ``violated`` says the
    history itself shows the expectation cannot hold whatever its bound (e.g. no instance was
    active at the end to hold the positions being graded): graded ``fail``, with the reason in
    ``note``. ``error`` is set when the checker itself raised.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float | int | None
    unit: Unit
    evidence: dict[str, Any] = {}
    note: str = ""
    unbounded: bool = False
    violated: bool = False
    error: str | None = None

    @classmethod
    def absent(cls, unit: Unit, note: str, **evidence: Any) -> Observation:
        """The evidence needed is not in the history."""
        return cls(value=None, unit=unit, note=note, evidence=evidence)

    @classmethod
    def violation(cls, unit: Unit, note: str, **evidence: Any) -> Observation:
        """The history shows the expectation cannot be met, whatever its bound."""
        return cls(value=None, unit=unit, note=note, evidence=evidence, violated=True)


@dataclass(frozen=True)
class ScheduledFault:
    """A fault of the scenario's timeline, under the ``fault_id`` the history records it with."""

    fault_id: str
    kind: str
    at_ns: int
    name: str | None = None
    """The scenario's own ``id`` for it, when it gives one."""


class WindowKind(StrEnum):
    DURING = "during"
    """from the fault's start to its heal"""
    AFTER = "after"
    """from the fault's heal (its start, when it is healed only at the run's end) on"""


@dataclass(frozen=True)
class Window:
    """The span of the history an expectation's ``during`` / ``after`` names, opened ``grace_ns`` late."""

    kind: WindowKind
    fault_id: str
    """the history's id of the fault (occurrence)"""
    name: str
    """the scenario's name for it, as the expectation wrote it"""
    grace_ns: int = 0


@dataclass(frozen=True)
class GradingContext:
    """What grading knows besides the history: the scenario's timeline and one expectation's options.

    ``anchor`` is the history ``fault_id`` an expectation's ``from`` names; ``hold_ns`` its ``hold``;
    ``window`` its ``during`` / ``after`` (and ``grace``); ``metric`` the series its ``metric``,
    ``labels`` and ``across`` select; ``alert`` the scenario's rule its ``alert`` names.
    """

    faults: tuple[ScheduledFault, ...] = ()
    anchor: str | None = None
    hold_ns: int | None = None
    window: Window | None = None
    metric: MetricQuery | None = None
    alert: AlertRule | None = None

    def scheduled(self, fault_id: object) -> ScheduledFault | None:
        return next((fault for fault in self.faults if fault.fault_id == fault_id), None)


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


@runtime_checkable
class ContextualChecker(Checker, Protocol):
    """A checker that also reads the grading context; ``options`` are the expectation keys it takes
    beside the bound (e.g. ``from``, ``hold``)."""

    @property
    def options(self) -> frozenset[str]: ...

    def check_in(self, ops: Sequence[Op], context: GradingContext) -> Observation: ...


class Specified:
    """A checker whose name, unit and options are its :attr:`spec` (see :mod:`gameday.checker_specs`)."""

    spec: CheckerSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def unit(self) -> Unit:
        return self.spec.unit

    @property
    def options(self) -> frozenset[str]:
        return self.spec.options

    @property
    def required_options(self) -> frozenset[str]:
        return self.spec.required_options


class NoopChecker:
    """Observes nothing; always ``unknown``. Useful as a placeholder and in tests."""

    def __init__(self, name: str = "noop", unit: Unit = Unit.COUNT) -> None:
        self.name = name
        self.unit = unit
        self.description = "observes nothing"

    def check(self, ops: Sequence[Op]) -> Observation:
        return Observation.absent(self.unit, "the noop checker observes nothing")


def observe(checker: Checker, ops: Sequence[Op], context: GradingContext | None = None) -> Observation:
    """Run a checker; a checker that raises yields an ``unknown`` observation with the error."""
    try:
        if context is not None and isinstance(checker, ContextualChecker):
            return checker.check_in(ops, context)
        return checker.check(ops)
    except Exception as error:  # a crashing checker must never crash the run
        text = f"{type(error).__name__}: {error}"
        return Observation(value=None, unit=checker.unit, note=f"checker {checker.name} crashed", error=text)
