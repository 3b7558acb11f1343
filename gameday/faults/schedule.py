"""The fault timeline as a pure plan: start and heal steps at offsets from the workload's start.

A repeating fault (``every`` with ``count`` or ``until``) is expanded here into its occurrences,
each a fault of its own with its own start and heal, under a derived id (``f1-pause#2``). Nothing
here touches a clock or the stack; ``gameday.faults.nemesis.play`` is the one interpreter of time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from gameday.scenario.faults import Fault, occurrences_of
from gameday.scenario.repeat import occurrence_id

__all__ = ["Occurrence", "Step", "StepAction", "fault_id", "occurrences", "plan"]


class StepAction(StrEnum):
    START = "start"
    HEAL = "heal"


@dataclass(frozen=True)
class Step:
    at_ns: int
    action: StepAction
    fault_id: str
    fault: Fault


@dataclass(frozen=True)
class Occurrence:
    """One start (and heal) of a timeline fault: the fault itself, or one occurrence of a repeat."""

    fault_id: str
    """the id the history records it under: ``f1-pause``, or ``f1-pause#2`` for a repeat's second"""
    name: str | None
    """the scenario's ``id`` for it (``stall``; ``stall#2`` for a repeat's second), if it has one"""
    fault: Fault
    """this occurrence alone: its own ``at``, no repeat keys"""
    number: int | None = None
    """1, 2, … for an occurrence of a repeating fault; ``None`` for a fault that does not repeat"""

    def answers_to(self, name: str) -> bool:
        """Whether an expectation's ``from: name`` names it: its own name, or (the first occurrence)
        the repeating fault's id."""
        return name == self.name or (self.number == 1 and name == self.fault.id)


def fault_id(index: int, fault: Fault) -> str:
    """The history id of the timeline's ``index``-th fault (of its first occurrence's base, when
    it repeats: see :func:`occurrences`)."""
    return f"f{index + 1}-{fault.fault}"


def occurrences(timeline: Sequence[Fault]) -> list[Occurrence]:
    """Every occurrence of every fault, in timeline order (a repeat's in start order)."""
    found: list[Occurrence] = []
    for index, fault in enumerate(timeline):
        base = fault_id(index, fault)
        if fault.every is None:
            found.append(Occurrence(base, fault.id, fault))
            continue
        for number, occurrence in enumerate(occurrences_of(fault), start=1):
            name = None if fault.id is None else occurrence_id(fault.id, number)
            found.append(Occurrence(occurrence_id(base, number), name, occurrence, number))
    return found


def plan(timeline: Sequence[Fault]) -> list[Step]:
    """Each occurrence's start, and its heal after ``for`` (the others are healed by the final heal)."""
    steps: list[Step] = []
    for occurrence in occurrences(timeline):
        fault, ident = occurrence.fault, occurrence.fault_id
        steps.append(Step(fault.at.ns, StepAction.START, ident, fault))
        if fault.heal_after is not None:
            steps.append(Step(fault.at.ns + fault.heal_after.ns, StepAction.HEAL, ident, fault))
    # at one instant, heals go before starts so a back-to-back fault is not healed by its predecessor
    return sorted(steps, key=lambda step: (step.at_ns, step.action != StepAction.HEAL))
