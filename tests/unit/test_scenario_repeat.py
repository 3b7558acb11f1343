"""Repeating timeline faults: validated at load time, expanded by the pure schedule, played as
separate faults and heals."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any, cast

import pytest

from gameday.errors import ScenarioError, ScenarioProblem
from gameday.faults.nemesis import Nemesis
from gameday.faults.schedule import StepAction, occurrences, plan
from gameday.faults.toxiproxy_client import ToxiproxyClient
from gameday.history import History, OpKind, OpType
from gameday.scenario import PauseFault, Scenario, parse_scenario
from gameday.scenario.faults import ExchangeFaultKind
from gameday.scenario.repeat import MAX_OCCURRENCES

S = 1_000_000_000


def _scenario(timeline: str, expect: str = "orders.ghost: 0", duration: str = "30s") -> str:
    return ("name: repeat\ndescription: repeating faults\nseed: 1\nstack: {preset: active-passive}\n"
            f"workload: {{orders_per_second: 10, symbols: [BTC-USD], duration: {duration}}}\n"
            f"timeline:\n{timeline}\nexpect:\n  {expect}\n")


def _load(timeline: str, expect: str = "orders.ghost: 0") -> Scenario:
    return parse_scenario(_scenario(timeline, expect), file="repeat.yaml")


def _problem(timeline: str, expect: str = "orders.ghost: 0") -> ScenarioProblem:
    with pytest.raises(ScenarioError) as raised:
        _load(timeline, expect)
    [problem] = raised.value.problems
    return problem


STALLS = "  - {at: 5s, fault: pause, target: oms-primary, for: 1s, every: 4s, count: 4, id: stall}"


def test_a_repeat_is_planned_as_separate_faults_and_heals_with_derived_ids() -> None:
    scenario = _load(STALLS + "\n  - {at: 2s, fault: kill, target: oms-dr}")

    steps = [(step.fault_id, step.action, step.at_ns // S) for step in plan(scenario.timeline)]

    assert steps == [
        ("f2-kill", StepAction.START, 2),
        ("f1-pause#1", StepAction.START, 5), ("f1-pause#1", StepAction.HEAL, 6),
        ("f1-pause#2", StepAction.START, 9), ("f1-pause#2", StepAction.HEAL, 10),
        ("f1-pause#3", StepAction.START, 13), ("f1-pause#3", StepAction.HEAL, 14),
        ("f1-pause#4", StepAction.START, 17), ("f1-pause#4", StepAction.HEAL, 18),
    ]


def test_each_occurrence_is_the_fault_at_its_own_time_without_repeat_keys() -> None:
    scenario = _load(STALLS)

    found = occurrences(scenario.timeline)

    assert [(o.fault_id, o.name, o.number, o.fault.at.ns // S) for o in found] == [
        ("f1-pause#1", "stall#1", 1, 5), ("f1-pause#2", "stall#2", 2, 9),
        ("f1-pause#3", "stall#3", 3, 13), ("f1-pause#4", "stall#4", 4, 17)]
    for occurrence in found:
        assert isinstance(occurrence.fault, PauseFault)
        assert (occurrence.fault.every, occurrence.fault.count, occurrence.fault.until) == (None, None, None)
        assert occurrence.fault.duration.ns == S
    assert found[0].answers_to("stall")
    assert not found[1].answers_to("stall")
    assert found[1].answers_to("stall#2")


def test_until_repeats_while_the_start_is_before_it() -> None:
    scenario = _load("  - {at: 5s, fault: partition, proxy: oms-primary->exchange, for: 2s, every: 4s, "
                     "until: 17s}")

    starts = [step.at_ns // S for step in plan(scenario.timeline) if step.action is StepAction.START]

    assert starts == [5, 9, 13]


def test_an_exchange_fault_repeats_through_arm_and_heal() -> None:
    scenario = _load("  - {at: 1s, fault: exchange, kind: halt, params: {symbols: [BTC-USD]}, for: 2s, "
                     "every: 5s, count: 3}")

    steps = plan(scenario.timeline)

    assert [(step.action, step.at_ns // S) for step in steps] == [
        (StepAction.START, 1), (StepAction.HEAL, 3), (StepAction.START, 6), (StepAction.HEAL, 8),
        (StepAction.START, 11), (StepAction.HEAL, 13)]
    assert {getattr(step.fault, "kind", None) for step in steps} == {ExchangeFaultKind.HALT}


@pytest.mark.parametrize(
    ("entry", "path", "expected"),
    [
        ("{at: 5s, fault: pause, target: oms-primary, for: 4s, every: 4s, count: 2}", "timeline[0].every",
         "expected every longer than for (4s) so that occurrences do not overlap, got 4s"),
        ("{at: 5s, fault: pause, target: oms-primary, for: 1s, every: 4s}", "timeline[0].every",
         "expected exactly one of count (how many times) or until (when it stops), got neither"),
        ("{at: 5s, fault: pause, target: oms-primary, for: 1s, every: 4s, count: 2, until: 20s}",
         "timeline[0].every", "got both"),
        ("{at: 5s, fault: pause, target: oms-primary, for: 1s, count: 2}", "timeline[0].count",
         "count bounds a repeating fault; expected every: <duration> beside it"),
        ("{at: 5s, fault: pause, target: oms-primary, for: 1s, until: 9s}", "timeline[0].until",
         "until bounds a repeating fault"),
        ("{at: 5s, fault: kill, target: oms-primary, every: 4s, count: 2}", "timeline[0].every",
         "a kill has no heal (the process stays down), so it cannot repeat"),
        ("{at: 5s, fault: exchange, kind: halt, params: {symbols: [BTC-USD]}, every: 4s, count: 2}",
         "timeline[0].every", "a repeating fault needs for"),
        ("{at: 5s, fault: pause, target: oms-primary, for: 1s, every: 4s, until: 5s}", "timeline[0].until",
         "expected a time after at (5s), got 5s"),
        ("{at: 1s, fault: pause, target: oms-primary, for: 1ms, every: 2ms, until: 29s}", "timeline[0].until",
         f"expected at most {MAX_OCCURRENCES} occurrences, got 14000"),
        ("{at: 1s, fault: pause, target: oms-primary, for: 1s, every: 2s, count: 5000}", "timeline[0].count",
         f"expected at most {MAX_OCCURRENCES} occurrences, got 5000"),
        ("{at: 5s, fault: pause, target: oms-primary, for: 1s, every: 4s, count: 8}", "timeline[0].count",
         "occurrence 8 would start at 33s, not before the end of the workload (30s); "
         "expected a count of at most 7"),
        ("{at: 5s, fault: pause, target: oms-primary, for: 1s, every: 4s, until: 31s}", "timeline[0].until",
         "expected a time no later than the end of the workload (30s), got 31s"),
        ("{at: 5s, fault: pause, target: oms-primary, for: 1s, every: 0s, count: 2}", "timeline[0].every",
         "expected a duration greater than 0"),
    ],
)
def test_a_bad_repeat_names_the_file_line_path_and_what_was_expected(entry: str, path: str,
                                                                      expected: str) -> None:
    problem = _problem(f"  - {entry}")

    assert (problem.file, problem.line, problem.yaml_path) == ("repeat.yaml", 7, path)
    assert expected in problem.message


def test_a_repeat_that_fits_exactly_loads() -> None:
    scenario = _load("  - {at: 5s, fault: pause, target: oms-primary, for: 1s, every: 4s, count: 7}")

    assert occurrences(scenario.timeline)[-1].fault.at.ns == 29 * S


@pytest.mark.parametrize("anchor", ["stall", "stall#3"])
def test_an_expectation_may_be_measured_from_a_repeat_or_one_occurrence(anchor: str) -> None:
    scenario = _load(STALLS, f"rto.failover: {{max: 10s, from: '{anchor}'}}")

    assert scenario.expect["rto.failover"].from_ == anchor


def test_an_occurrence_past_the_count_is_not_a_fault_to_measure_from() -> None:
    problem = _problem(STALLS, "rto.failover: {max: 10s, from: 'stall#5'}")

    assert problem.yaml_path == 'expect["rto.failover"].from'
    assert "stall (its first occurrence; or stall#1 … stall#4)" in problem.message


class _Target:
    """A stack that records what the nemesis does to it."""

    def __init__(self) -> None:
        self.toxiproxy: ToxiproxyClient | None = None
        self.signals: list[tuple[str, signal.Signals]] = []

    async def signal(self, service: str, sig: signal.Signals) -> None:
        self.signals.append((service, sig))

    async def exchange_fault(self, kind: ExchangeFaultKind, params: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("no exchange fault in this timeline")

    async def heal_exchange_fault(self, kind: ExchangeFaultKind) -> None:
        raise AssertionError("no exchange fault in this timeline")


def test_the_nemesis_records_each_occurrence_as_its_own_fault_and_heal() -> None:
    scenario = _load(STALLS)
    target, history = _Target(), History()
    nemesis = Nemesis(target, history)
    already_started = time.monotonic_ns() - 60 * S  # every step is due: nothing waits

    asyncio.run(nemesis.play(plan(scenario.timeline), already_started))

    applied = [(op.f, op.value["fault_id"]) for op in history.ops
               if op.kind == OpKind.FAULT and op.type == OpType.OK]
    assert applied == [(f, f"f1-pause#{n}") for n in range(1, 5) for f in ("pause", "heal")]
    assert target.signals == [("oms-primary", signal.SIGSTOP), ("oms-primary", signal.SIGCONT)] * 4


class _Toxiproxy:
    def __init__(self) -> None:
        self.toxics: set[str] = set()
        self.removed: list[str] = []

    async def add_toxic(self, proxy: str, type_: str, *, name: str, **_: Any) -> dict[str, Any]:
        self.toxics.add(name)
        return {}

    async def remove_toxic(self, proxy: str, name: str) -> None:
        self.toxics.remove(name)
        self.removed.append(name)


def test_a_repeating_toxic_gets_a_url_safe_name_per_occurrence() -> None:
    scenario = _load("  - {at: 1s, fault: latency, proxy: oms-primary->exchange, latency_ms: 100, for: 1s, "
                     "every: 2s, count: 2}")
    target, history = _Target(), History()
    proxy = _Toxiproxy()
    target.toxiproxy = cast(ToxiproxyClient, proxy)

    asyncio.run(Nemesis(target, history).play(plan(scenario.timeline), time.monotonic_ns() - 60 * S))

    assert proxy.removed == ["f1-latency-1-downstream", "f1-latency-2-downstream"]
    assert proxy.toxics == set()
    assert not [op for op in history.ops if op.type == OpType.FAIL]
