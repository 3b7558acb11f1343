"""The fault timeline as a pure plan: start and heal steps at offsets from the workload's start.

Nothing here touches a clock or the stack; ``gameday.faults.nemesis.play`` is the one
interpreter of time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from gameday.scenario.faults import Fault


class StepAction(StrEnum):
    START = "start"
    HEAL = "heal"


@dataclass(frozen=True)
class Step:
    at_ns: int
    action: StepAction
    fault_id: str
    fault: Fault


def fault_id(index: int, fault: Fault) -> str:
    return f"f{index + 1}-{fault.fault}"


def plan(timeline: Sequence[Fault]) -> list[Step]:
    """Each fault's start, and its heal after ``for`` (the others are healed by the final heal)."""
    steps: list[Step] = []
    for index, fault in enumerate(timeline):
        ident = fault_id(index, fault)
        steps.append(Step(fault.at.ns, StepAction.START, ident, fault))
        if fault.heal_after is not None:
            steps.append(Step(fault.at.ns + fault.heal_after.ns, StepAction.HEAL, ident, fault))
    # at one instant, heals go before starts so a back-to-back fault is not healed by its predecessor
    return sorted(steps, key=lambda step: (step.at_ns, step.action != StepAction.HEAL))
