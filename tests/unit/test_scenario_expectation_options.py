"""Fault ids and the options an expectation gives its checker (``from``, ``hold``), end to end."""

import pytest

from gameday.errors import ScenarioError
from gameday.scenario import parse_scenario
from gameday.scenario.duration import Duration
from gameday.verdict import Verdict, grade_run, grading_context
from tests.unit.history_builder import HistoryBuilder

SCENARIO = """\
name: two-kills
description: postgres and the primary killed at one instant
seed: 1
stack: {{preset: active-passive}}
workload: {{orders_per_second: 10, symbols: [BTC-USD, ETH-USD], duration: 20s}}
timeline:
{timeline}
expect:
{expect}
"""
TIMELINE = """\
  - {at: 8s, fault: kill, target: postgres, id: db-kill}
  - {at: 8s, fault: kill, target: oms-primary, id: primary-kill}
  - {at: 2s, fault: latency, proxy: oms-primary->nats, latency_ms: 50, for: 1s, id: slow-nats}"""


def _scenario(expect: str, timeline: str = TIMELINE) -> str:
    return SCENARIO.format(timeline=timeline, expect=expect)


def _problem(text: str) -> tuple[str, str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, file="s.yaml")
    [problem] = caught.value.problems
    return problem.yaml_path, problem.message


def test_an_rto_names_the_fault_it_is_measured_from_and_its_hold() -> None:
    scenario = parse_scenario(_scenario("  rto.failover: {max: 10s, from: primary-kill, hold: 3s}"))

    [rto] = scenario.expectations
    context = grading_context(scenario, rto)

    assert (rto.from_, rto.hold) == ("primary-kill", Duration.of_seconds(3))
    assert rto.options == {"from": "primary-kill", "hold": Duration.of_seconds(3)}
    assert [fault.name for fault in context.faults] == ["db-kill", "primary-kill", "slow-nats"]
    assert (context.anchor, context.hold_ns) == ("f2-kill", 3_000_000_000)


def test_from_must_name_an_outage_fault_of_the_timeline() -> None:
    unknown = _problem(_scenario("  rto.failover: {max: 10s, from: primary-crash}"))
    latency = _problem(_scenario("  rto.failover: {max: 10s, from: slow-nats}"))

    assert unknown[0] == 'expect["rto.failover"].from'
    assert "db-kill, primary-kill" in unknown[1]
    assert "kill, pause or partition" in latency[1]


def test_an_option_the_checker_does_not_take_is_refused() -> None:
    path, message = _problem(_scenario("  orders.ghost: {equals: 0, hold: 2s}"))

    assert path == 'expect["orders.ghost"]'
    assert "orders.ghost does not take hold" in message


def test_fault_ids_are_slugs_named_once() -> None:
    repeated = TIMELINE.replace("id: db-kill", "id: primary-kill")
    path, message = _problem(_scenario("  rto.failover: {max: 10s}", repeated))
    upper = TIMELINE.replace("db-kill", "DB")
    bad_path, bad_message = _problem(_scenario("  rto.failover: {max: 10s}", upper))

    assert path == "timeline[1].id"
    assert "already names timeline[0]" in message
    assert bad_path == "timeline[0].id"
    assert "lowercase letters" in bad_message


def _history(first: str, second: str) -> HistoryBuilder:
    """The two kills scheduled at 8 s, applied in list order; oms-dr trades from 10 s."""
    history = HistoryBuilder().run_start().trade(at=7.9, instance="oms-primary")
    history.fault("kill", at=8.0, target=first, fault_id="f1-kill")
    history.fault("kill", at=8.05, target=second, fault_id="f2-kill")
    history.trade(at=9.0)
    for at in (10.0, 11.0, 12.0, 13.0):
        history.trade(at=at, instance="oms-dr")
    return history


def test_the_default_anchor_does_not_depend_on_the_order_faults_are_listed_in() -> None:
    listed = _scenario("  rto.failover: {max: 10s}")
    swapped = listed.replace("target: postgres, id: db-kill", "target: TMP").replace(
        "target: oms-primary, id: primary-kill", "target: postgres, id: db-kill").replace(
        "target: TMP", "target: oms-primary, id: primary-kill")

    as_listed = grade_run(parse_scenario(listed), _history("postgres", "oms-primary").ops)
    as_swapped = grade_run(parse_scenario(swapped), _history("oms-primary", "postgres").ops)

    for result in (as_listed, as_swapped):
        [rto] = result.expectations
        assert rto.verdict is Verdict.PASS
        assert rto.evidence["affected"] == ["oms-primary"]
        assert rto.evidence["fault_name"] == "primary-kill"


def test_grading_measures_from_the_named_fault_with_the_declared_hold() -> None:
    scenario = parse_scenario(_scenario("  rto.failover: {max: 1.5s, from: primary-kill, hold: 5s}"))

    [rto] = grade_run(scenario, _history("postgres", "oms-primary").ops).expectations

    assert rto.verdict is Verdict.UNKNOWN  # trading came back, but the probes end before 5 s of it
    assert "hold of 5.0 s" in rto.note
    assert rto.evidence["anchor"] == "from: primary-kill (f2-kill)"
