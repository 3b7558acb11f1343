from pathlib import Path

import pytest

from gameday.checkers import NoopChecker, Unit, build_registry
from gameday.errors import GamedayError, ScenarioError, ScenarioProblem
from gameday.scenario import (
    Duration,
    KillFault,
    KillSignal,
    LatencyFault,
    MaxBound,
    Scenario,
    StackPreset,
    Stream,
    load_scenario,
    parse_scenario,
)

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parents[2]


def _problems(fixture: str) -> list[ScenarioProblem]:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(FIXTURES / fixture)
    return list(raised.value.problems)


def _only_problem(fixture: str) -> ScenarioProblem:
    [problem] = _problems(fixture)
    assert problem.file == str(FIXTURES / fixture)
    return problem


def test_a_valid_file_loads_into_typed_models() -> None:
    scenario = load_scenario(FIXTURES / "base_ok.yaml")

    assert scenario.stack.preset is StackPreset.ACTIVE_PASSIVE
    assert scenario.workload.duration == Duration(30_000_000_000)
    assert scenario.workload.market_order_ratio == 0.3
    kill, latency = scenario.timeline
    assert isinstance(kill, KillFault)
    assert kill.signal is KillSignal.SIGKILL
    assert isinstance(latency, LatencyFault)
    assert (latency.stream, latency.jitter_ms, latency.duration.seconds) == (Stream.DOWNSTREAM, 0, 8.0)
    assert scenario.expect["rto.failover"].bound == MaxBound(max=15.0)
    assert scenario.probes.trade_interval == Duration(100_000_000)


def test_the_shipped_failover_scenario_loads() -> None:
    scenario = load_scenario(REPO / "scenarios" / "failover-primary-crash.yaml")

    assert scenario.name == "failover-primary-crash"
    [kill] = scenario.timeline
    assert isinstance(kill, KillFault)
    assert (kill.target, kill.signal, kill.at.seconds) == ("oms-primary", KillSignal.SIGKILL, 8.0)
    assert scenario.workload.orders_per_second == 50
    assert scenario.workload.symbols == ("BTC-USD", "ETH-USD")
    assert scenario.expect["rto.failover"].max == 10.0
    assert sorted(scenario.expect) == [
        "fills.lost", "orders.ghost", "orders.sent_without_lease", "positions.mismatch_bps", "rto.failover",
        "trading.available_at_end", "writers.concurrent_active"]
    assert scenario.postmortem is not None
    assert "Seed 002" in scenario.postmortem


def test_unknown_key_names_the_key_its_line_and_the_keys_expected() -> None:
    problem = _only_problem("bad_unknown_key.yaml")

    assert (problem.line, problem.yaml_path) == (4, "colour")
    assert "unknown key" in problem.message
    assert "name, description, postmortem, seed" in problem.message


def test_wrong_type_names_the_nested_path() -> None:
    problem = _only_problem("bad_wrong_type.yaml")

    assert (problem.line, problem.yaml_path) == (12, "timeline[1].latency_ms")
    assert "expected a valid integer" in problem.message
    assert "got 'slow'" in problem.message


def test_bad_duration_says_what_a_duration_looks_like() -> None:
    problem = _only_problem("bad_duration.yaml")

    assert (problem.line, problem.yaml_path) == (9, "workload.duration")
    assert "expected a duration such as '100ms', '2.5s', '1m'" in problem.message
    assert "'30 parsecs'" in problem.message


def test_unknown_fault_lists_the_faults() -> None:
    problem = _only_problem("bad_unknown_fault.yaml")

    assert (problem.line, problem.yaml_path) == (11, "timeline[0].fault")
    assert ("unknown fault 'explode'; expected one of: kill, pause, latency, bandwidth, reset_peer, slicer, "
            "limit_data, partition, exchange") in problem.message


def test_unknown_target_lists_the_services_of_the_preset() -> None:
    problem = _only_problem("bad_unknown_target.yaml")

    assert (problem.line, problem.yaml_path) == (11, "timeline[0].target")
    assert "preset active-passive" in problem.message
    assert "oms-primary, oms-dr, failover" in problem.message
    assert "got 'oms-tertiary'" in problem.message


def test_unknown_proxy_lists_the_hops_of_the_preset() -> None:
    problem = _only_problem("bad_unknown_proxy.yaml")

    assert (problem.line, problem.yaml_path) == (12, "timeline[1].proxy")
    assert "failover->oms-primary" in problem.message
    assert "got 'failover->moon'" in problem.message


def test_unknown_expectation_lists_the_checker_names() -> None:
    problem = _only_problem("bad_unknown_expectation.yaml")

    assert (problem.line, problem.yaml_path) == (15, 'expect["orders.ghosts"]')
    assert "unknown expectation" in problem.message
    assert "orders.sent_without_lease, positions.divergence_bps, positions.mismatch_bps" in problem.message


def test_a_bound_in_the_wrong_unit_names_the_bound() -> None:
    problem = _only_problem("bad_bound.yaml")

    assert (problem.line, problem.yaml_path) == (14, 'expect["rto.failover"].max')
    assert "expected a duration" in problem.message


def test_a_fault_after_the_end_of_the_workload() -> None:
    problem = _only_problem("bad_at_beyond_duration.yaml")

    assert (problem.line, problem.yaml_path) == (11, "timeline[0].at")
    assert "before the end of the workload (30s), got 45s" in problem.message


def test_yaml_syntax_error_is_a_scenario_error_with_a_line() -> None:
    problem = _only_problem("bad_syntax.yaml")

    assert problem.line is not None
    assert problem.line >= 8
    assert problem.message.startswith("invalid YAML")


def test_empty_file() -> None:
    problem = _only_problem("empty.yaml")

    assert "the file is empty" in problem.message
    assert "expected a mapping" in problem.message


def test_not_a_mapping() -> None:
    problem = _only_problem("not_a_mapping.yaml")

    assert problem.line == 1
    assert "expected a mapping" in problem.message
    assert "got a list" in problem.message


def test_a_repeated_key_is_refused() -> None:
    problem = _only_problem("bad_repeated_key.yaml")

    assert (problem.line, problem.yaml_path) == (4, "seed")
    assert "first on line 3" in problem.message


def test_a_missing_file() -> None:
    problem = _only_problem("no-such-file.yaml")

    assert "cannot read the file" in problem.message


def test_every_problem_is_listed_in_line_order_and_in_the_message() -> None:
    path = FIXTURES / "bad_many.yaml"
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    error = raised.value
    found = [(problem.line, problem.yaml_path) for problem in error.problems]

    assert found == [
        (1, "name"),
        (6, "stack.defects[1]"),
        (8, "workload.orders_per_second"),
        (12, "timeline[0].signal"),
        (13, "timeline[1].for"),
        (14, "timeline[2].fault"),
        (16, 'expect["rto.failover"]'),
        (17, 'expect["positions.mismatch_bps"].maximum'),
    ]
    text = str(error)
    assert text.startswith(f"invalid scenario {path}: 8 problems")
    assert f"{path}:13: timeline[1].for: required key is missing" in text
    assert "expected 'SIGKILL' or 'SIGTERM', got 'SIGHUP'" in text
    assert "expected min <= max" in text
    assert "unknown key; expected one of: max, min, equals" in text
    assert isinstance(error, GamedayError)


def test_expectation_names_are_checked_against_the_registry_given() -> None:
    text = (FIXTURES / "base_ok.yaml").read_text().replace("orders.ghost: 0", "custom.metric: {max: 3}")
    custom = build_registry([NoopChecker("rto.failover", Unit.SECONDS), NoopChecker("custom.metric")])

    scenario = parse_scenario(text, checkers=custom)

    assert scenario.expect["custom.metric"].max == 3
    with pytest.raises(ScenarioError, match=r"custom\.metric"):
        parse_scenario(text)


def test_a_scenario_round_trips_through_json() -> None:
    scenario = load_scenario(FIXTURES / "base_ok.yaml")

    again = Scenario.model_validate_json(scenario.model_dump_json(by_alias=True))

    assert again == scenario
