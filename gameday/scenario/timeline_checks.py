"""Cross-field checks of a scenario's timeline: against the workload, the preset and ``expect``.

Each fault (every occurrence of a repeating one) starts before the workload ends and, when it has
``for``, is healed by then, so no fault holds the run past its workload; the timeline has at most
:data:`~gameday.scenario.limits.MAX_TIMELINE_OCCURRENCES` occurrences; faults name the preset's
services and hops; fault ids are unique, an expectation's ``from`` names an outage fault and its
``during`` / ``after`` a fault of the timeline.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import InitErrorDetails

from gameday.scenario.duration import Duration
from gameday.scenario.expectations import Expectation
from gameday.scenario.faults import ExchangeFault, Fault, FaultKind, KillFault, PauseFault
from gameday.scenario.invalid import invalid
from gameday.scenario.limits import MAX_TIMELINE_OCCURRENCES
from gameday.scenario.presets import StackPreset, topology
from gameday.scenario.repeat import occurrence_id

__all__ = ["OUTAGE_FAULTS", "fault_id_problems", "timeline_length_problem", "timeline_problems"]

OUTAGE_FAULTS = (FaultKind.KILL, FaultKind.PAUSE, FaultKind.PARTITION)
"""The faults an RTO can be measured from: they take a service out."""


def _problem(loc: tuple[int | str, ...], kind: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=invalid(kind, message), loc=loc, input=value)


def timeline_length_problem(timeline: Any) -> str | None:
    """Before any fault is validated: a timeline written longer than the limit is refused at once."""
    if isinstance(timeline, list | tuple) and len(timeline) > MAX_TIMELINE_OCCURRENCES:
        return f"expected at most {MAX_TIMELINE_OCCURRENCES:,} faults, got {len(timeline):,}"
    return None


def timeline_problems(timeline: tuple[Fault, ...], preset: StackPreset, workload_end: Duration,
                      *, market_data: bool = False) -> list[InitErrorDetails]:
    """Faults (every occurrence of a repeating one) start within the workload, are healed by its end
    and name the preset's services and hops (its feed hops too with ``market_data``); repeats expanded,
    the timeline stays within the limit."""
    stack = topology(preset)
    hop_names = stack.hop_names + (tuple(hop.name for hop in stack.feed_hops) if market_data else ())
    problems = []
    for index, fault in enumerate(timeline):
        if fault.at >= workload_end:
            problems.append(_problem(
                (index, "at"), "after_workload",
                f"expected a time before the end of the workload ({workload_end}), got {fault.at}",
                str(fault.at)))
        problems += [{**problem, "loc": (index, *problem["loc"])}
                     for problem in fault.repeat.workload_problems(workload_end)]
        if isinstance(fault, ExchangeFault):
            continue
        if isinstance(fault, KillFault | PauseFault):
            if fault.target not in stack.services:
                problems.append(_problem(
                    (index, "target"), "unknown_service",
                    f"unknown service; expected a service of preset {preset}, "
                    f"one of: {', '.join(stack.services)}", fault.target))
        elif fault.proxy not in hop_names:
            problems.append(_problem(
                (index, "proxy"), "unknown_proxy",
                f"unknown proxy; expected a hop '<from>-><to>' of preset {preset}, "
                f"one of: {', '.join(hop_names)}", fault.proxy))
    total = sum(fault.repeat.occurrences for fault in timeline)
    if total > MAX_TIMELINE_OCCURRENCES:
        problems.append(_problem(
            (), "timeline_too_long", f"expected at most {MAX_TIMELINE_OCCURRENCES:,} fault occurrences "
            f"(each repeat counted as its occurrences), got {total:,}", f"{len(timeline)} faults"))
    return problems


def fault_id_problems(timeline: tuple[Fault, ...], expect: dict[str, Expectation]) -> list[InitErrorDetails]:
    """Fault ids are unique; an expectation's ``from`` names an outage fault of the timeline."""
    problems = []
    seen: dict[str, int] = {}
    for index, fault in enumerate(timeline):
        if fault.id is None:
            continue
        if fault.id in seen:
            problems.append(_problem(("timeline", index, "id"), "fault_id_repeated",
                                     f"fault id {fault.id!r} already names timeline[{seen[fault.id]}]; "
                                     "expected each id once", fault.id))
        seen.setdefault(fault.id, index)
    outages = [fault for fault in timeline if fault.id is not None and fault.fault in OUTAGE_FAULTS]
    names = {name for fault in outages for name in _names(fault)}
    for name, expectation in expect.items():
        if expectation.from_ is None or expectation.from_ in names:
            continue
        known = ", ".join(sorted(_described_names(fault) for fault in outages)) or \
            "none: give a kill, pause or partition fault an id"
        problems.append(_problem(("expect", name, "from"), "unknown_fault_id",
                                 f"expected the id of a kill, pause or partition fault of the timeline "
                                 f"({known})", expectation.from_))
    problems += _window_problems(timeline, expect)
    return problems


def _window_problems(timeline: tuple[Fault, ...], expect: dict[str, Expectation]) -> list[InitErrorDetails]:
    """An expectation's ``during`` / ``after`` names a fault of the timeline (any kind)."""
    named = [fault for fault in timeline if fault.id is not None]
    names = {name for fault in named for name in _names(fault)}
    problems = []
    for name, expectation in expect.items():
        for key, fault_name in (("during", expectation.during), ("after", expectation.after)):
            if fault_name is None or fault_name in names:
                continue
            known = ", ".join(sorted(_described_names(fault) for fault in named)) or \
                "none: give a timeline fault an id"
            problems.append(_problem(("expect", name, key), "unknown_fault_id",
                                     f"expected the id of a fault of the timeline ({known})", fault_name))
    return problems


def _names(fault: Fault) -> list[str]:
    """What ``from`` may name a fault by: its id, and for a repeat each occurrence's (``stall#2``)."""
    assert fault.id is not None
    if fault.every is None:
        return [fault.id]
    return [fault.id, *(occurrence_id(fault.id, number) for number in range(1, fault.repeat.occurrences + 1))]


def _described_names(fault: Fault) -> str:
    assert fault.id is not None
    if fault.every is None:
        return fault.id
    last = occurrence_id(fault.id, fault.repeat.occurrences)
    return f"{fault.id} (its first occurrence; or {occurrence_id(fault.id, 1)} … {last})"
