"""``stop_when:`` and ``safety:`` loaded into typed models; each malformed case is one loader error line."""

from __future__ import annotations

import pytest

from gameday.errors import ScenarioError
from gameday.scenario import Duration, parse_scenario
from gameday.scenario.stop_spec import SafetyStep

BASE = ("name: stops\ndescription: safety lines\nseed: 1\nstack: {preset: active-passive}\n"
        "workload: {orders_per_second: 10, symbols: [BTC-USD], duration: 20s}\nexpect: {orders.ghost: 0}\n")


def test_stop_when_and_safety_load_into_typed_models() -> None:
    scenario = parse_scenario(BASE + "stop_when:\n  no_active_for: 4s\n  client_failure_ratio: {max: 0.5}\n"
                                     "  rejects_per_s: {max: 20, over: 2s}\n"
                                     "safety: [cancel-all, kill-switch]\n")

    stop = scenario.stop_when
    assert stop is not None
    assert stop.no_active_for == Duration(4_000_000_000)
    assert stop.client_failure_ratio is not None
    assert stop.client_failure_ratio.over == Duration(5_000_000_000)
    assert stop.client_failure_ratio.min_orders == 10
    assert stop.rejects_per_s is not None
    assert stop.rejects_per_s.max == 20
    assert scenario.safety == (SafetyStep.CANCEL_ALL, SafetyStep.KILL_SWITCH)


def test_without_stop_when_nothing_is_watched() -> None:
    scenario = parse_scenario(BASE)

    assert scenario.stop_when is None
    assert scenario.safety is None


@pytest.mark.parametrize(("body", "line", "where", "reason"), [
    ("stop_when: {}\n", 7, "stop_when", "expected at least one of no_active_for"),
    ("stop_when: {no_active_for: null}\n", 7, "stop_when", "expected at least one of no_active_for"),
    ("stop_when: [no_active_for]\n", 7, "stop_when", "expected a mapping"),
    ("stop_when: {no_active_for: 0s}\n", 7, "stop_when.no_active_for", "expected a duration greater than 0"),
    ("stop_when: {no_active_for: soon}\n", 7, "stop_when.no_active_for", "expected a duration such as"),
    ("stop_when: {client_failure_ratio: {max: 1.5}}\n", 7, "stop_when.client_failure_ratio.max",
     "less than 1"),
    ("stop_when: {client_failure_ratio: {over: 5s}}\n", 7, "stop_when.client_failure_ratio.max", "required"),
    ("stop_when: {rejects_per_s: {max: 2, over: 0s}}\n", 7, "stop_when.rejects_per_s.over",
     "greater than 0"),
    ("stop_when: {exposure: {max_lots: 3}}\n", 7, "stop_when.exposure", "unknown key"),
    ("safety: [flatten]\n", 7, "safety", "set stop_when"),
    ("stop_when: {no_active_for: 4s}\nsafety: [halt]\n", 8, "safety[0]",
     "expected 'cancel-all', 'flatten' or 'kill-switch'"),
    ("stop_when: {no_active_for: 4s}\nsafety: []\n", 8, "safety", "expected at least one of cancel-all"),
    ("stop_when: {no_active_for: 4s}\nsafety: [flatten, flatten]\n", 8, "safety",
     "expected each safety step once, got flatten more than once"),
])
def test_a_malformed_stop_line_is_one_error_with_its_place(body: str, line: int, where: str,
                                                          reason: str) -> None:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(BASE + body, file="stops.yaml")

    [problem] = raised.value.problems
    assert (problem.file, problem.line, problem.yaml_path) == ("stops.yaml", line, where)
    assert reason in problem.message
    assert "\n" not in str(raised.value)
