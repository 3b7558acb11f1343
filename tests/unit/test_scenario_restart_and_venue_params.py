"""Load-time checks that used to wait for the run: a restart the preset's stack cannot do, and venue
fault params the venue would refuse (the new rate-limit, execution-report and cancel-failure keys)."""

from __future__ import annotations

import pytest

from gameday.errors import ScenarioError, ScenarioProblem
from gameday.scenario import ExchangeFault, StackPreset, parse_scenario, topology
from gameday.scenario.actions import RestartAction
from reference_target.blue_green import INITIAL_ROLES


def _scenario(preset: str, body: str) -> str:
    return (f"name: checks\ndescription: load-time checks\nseed: 1\nstack: {{preset: {preset}}}\n"
            "workload: {orders_per_second: 10, symbols: [BTC-USD], duration: 20s}\n"
            f"{body}expect:\n  orders.ghost: 0\n")


def _problems(preset: str, body: str) -> list[ScenarioProblem]:
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(_scenario(preset, body), file="checks.yaml")
    return list(raised.value.problems)


# -- restart -----------------------------------------------------------------------------------


def test_a_restart_on_a_preset_that_cannot_restart_is_refused_at_load_time() -> None:
    [problem] = _problems("active-passive", "actions:\n  - {at: 3s, action: restart, target: oms-primary}\n")

    assert (problem.file, problem.line, problem.yaml_path) == ("checks.yaml", 7, "actions[0].target")
    assert "preset active-passive cannot restart any service" in problem.message
    assert "restart needs preset blue-green" in problem.message


def test_a_restart_of_a_service_the_preset_does_not_restart_names_the_ones_it_does() -> None:
    [problem] = _problems("blue-green", "actions:\n  - {at: 3s, action: restart, target: front-door}\n")

    assert problem.yaml_path == "actions[0].target"
    assert "expected a service preset blue-green can restart, one of: oms-blue, oms-green" in problem.message
    assert "'front-door'" in problem.message


@pytest.mark.parametrize("target", ["oms-blue", "oms-green"])
def test_a_restart_the_preset_can_do_loads(target: str) -> None:
    actions = f"actions:\n  - {{at: 3s, action: restart, target: {target}}}\n"

    scenario = parse_scenario(_scenario("blue-green", actions))

    [action] = scenario.actions
    assert isinstance(action, RestartAction)
    assert action.target == target


def test_the_preset_lists_exactly_what_the_blue_green_stack_restarts() -> None:
    # BlueGreenStack registers a starter (what restart needs) for each of INITIAL_ROLES
    assert set(topology(StackPreset.BLUE_GREEN).restartable) == set(INITIAL_ROLES)
    assert topology(StackPreset.ACTIVE_PASSIVE).restartable == ()


# -- venue fault params ------------------------------------------------------------------------


def test_the_new_venue_fault_params_load() -> None:
    timeline = ("timeline:\n"
                "  - {at: 1s, fault: exchange, kind: rate_limit, params: {max_orders: 5, window_s: 1, "
                "counts: [new, cancel, replace]}, for: 3s}\n"
                "  - {at: 2s, fault: exchange, kind: execution_reports, "
                "params: {mode: duplicate, only: fills}}\n"
                "  - {at: 3s, fault: exchange, kind: cancel_failure, "
                "params: {mode: hang, on_heal: drop}, for: 4s}\n")

    scenario = parse_scenario(_scenario("active-passive", timeline))

    params = [fault.params for fault in scenario.timeline if isinstance(fault, ExchangeFault)]
    assert params == [{"max_orders": 5, "window_s": 1, "counts": ["new", "cancel", "replace"]},
                      {"mode": "duplicate", "only": "fills"}, {"mode": "hang", "on_heal": "drop"}]


@pytest.mark.parametrize(
    ("params", "kind", "expected"),
    [
        ("{max_orders: 5, window_s: 1, counts: [new, amend]}", "rate_limit",
         "the venue would refuse rate_limit: counts.1: Input should be 'new', 'cancel' or 'replace'"),
        ("{max_orders: 5, window_s: 1, counts: []}", "rate_limit", "counts: Value error, expected a list"),
        ("{mode: drop, only: acks}", "execution_reports", "only: Input should be 'all' or 'fills'"),
        ("{mode: reject, on_heal: drop}", "cancel_failure",
         "on_heal: Value error, applies to mode hang only"),
        ("{mode: hang, on_heal: later}", "cancel_failure", "on_heal: Input should be 'release' or 'drop'"),
    ],
)
def test_venue_fault_params_the_venue_would_refuse_are_refused_at_load_time(params: str, kind: str,
                                                                            expected: str) -> None:
    timeline = f"timeline:\n  - {{at: 1s, fault: exchange, kind: {kind}, params: {params}, for: 3s}}\n"

    [problem] = _problems("active-passive", timeline)

    assert (problem.line, problem.yaml_path) == (7, "timeline[0].params")
    assert expected in problem.message


def test_a_mixed_report_fault_takes_its_mix_as_a_mapping_of_chances() -> None:
    timeline = ("timeline:\n  - {at: 1s, fault: exchange, kind: execution_reports, for: 3s, params: "
                "{mode: mixed, only: fills, mix: {drop: 0.1, duplicate: 0.2, delay: 0.2}, delay_s: 0.5}}\n")

    [fault] = parse_scenario(_scenario("active-passive", timeline)).timeline

    assert isinstance(fault, ExchangeFault)
    assert fault.params["mix"] == {"drop": 0.1, "duplicate": 0.2, "delay": 0.2}


@pytest.mark.parametrize(("mix", "expected"), [
    ("{drop: 0.7, duplicate: 0.7}", "expected drop + duplicate + delay in (0, 1], got 1.4"),
    ("{drop: .nan}", "expected a finite number, got nan"),
    ("{drop: [0.1]}", "timeline[0].params.mix"),
])
def test_a_mix_the_venue_cannot_play_is_refused_at_load_time(mix: str, expected: str) -> None:
    timeline = ("timeline:\n  - {at: 1s, fault: exchange, kind: execution_reports, for: 3s, params: "
                f"{{mode: mixed, mix: {mix}}}}}\n")

    problems = _problems("active-passive", timeline)

    assert all(problem.line == 7 for problem in problems)
    assert any(expected in f"{problem.yaml_path}: {problem.message}" for problem in problems)
