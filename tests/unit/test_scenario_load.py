"""A scenario's ``load:`` section and the window options of expectations: loaded, or refused with
the loader's one-line error (file, line, YAML path, reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.load.run import LoadError, LoadPlan, load_hosts
from gameday.scenario import Duration, Scenario, load_scenario, parse_scenario
from gameday.scenario.load_spec import load_window
from gameday.stack.settings import StackEndpoints

SCENARIO = """\
name: load-example
description: locust users beside the workload
seed: 3
stack: {{preset: {preset}}}
workload: {{orders_per_second: 10, symbols: [BTC-USD, ETH-USD], duration: 20s}}
timeline:
  - {{id: primary-crash, at: 8s, fault: kill, target: oms-primary}}
  - {{id: slow-exchange, at: 4s, fault: latency, proxy: oms-primary->exchange, latency_ms: 200, for: 3s}}
load:
{load}
expect:
{expect}
"""
LOAD = "  locustfile: ../loads/oms_http.py"
EXPECT = "  load.failure_ratio: {max: 0.1}"
REPO = Path(__file__).parents[2]


def _text(load: str = LOAD, expect: str = EXPECT, preset: str = "active-passive") -> str:
    return SCENARIO.format(load=load, expect=expect, preset=preset)


def _problem(text: str) -> tuple[int | None, str, str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, file="s.yaml")
    [problem] = caught.value.problems
    assert "\n" not in str(problem)
    return problem.line, problem.yaml_path, problem.message


def test_a_load_section_loads_with_its_defaults() -> None:
    scenario = parse_scenario(_text())

    load = scenario.load
    assert load is not None
    assert (load.locustfile, load.service) == ("../loads/oms_http.py", "oms")
    assert (load.users, load.spawn_rate) == (20, 10)
    assert (load.from_, load.until, load.shape, load.env) == (Duration(0), "end", (), {})
    assert load_window(load, scenario.timeline, scenario.workload.duration) == (0, 20_000_000_000)
    assert Scenario.model_validate_json(scenario.model_dump_json(by_alias=True)) == scenario


def test_from_and_until_name_times_or_faults() -> None:
    load = (LOAD + "\n  from: slow-exchange\n  until: 15s\n"
            "  shape: [{for: 2s, users: 5}, {for: 5s, users: 40, spawn_rate: 8}]")
    scenario = parse_scenario(_text(load))
    healed = parse_scenario(_text(LOAD + "\n  from: 2s\n  until: slow-exchange"))

    assert scenario.load is not None
    assert healed.load is not None
    assert load_window(scenario.load, scenario.timeline, scenario.workload.duration) == (4_000_000_000,
                                                                                         15_000_000_000)
    assert [(stage.users, stage.spawn_rate) for stage in scenario.load.shape] == [(5, None), (40, 8.0)]
    assert load_window(healed.load, healed.timeline, healed.workload.duration) == (2_000_000_000,
                                                                                   7_000_000_000)


@pytest.mark.parametrize(("load", "path", "message"), [
    (LOAD + "\n  userz: 5", "load.userz", "unknown key; expected one of: locustfile, target, url, users"),
    (LOAD + "\n  users: 0", "load.users", "greater than or equal to 1"),
    (LOAD + "\n  from: soon", "load.from", "expected start, end, a time or the id of a timeline fault"),
    (LOAD + "\n  from: no-such-fault", "load.from", "(primary-crash, slow-exchange)"),
    (LOAD + "\n  until: primary-crash", "load.until", "has no for: it is healed only at the end of the run"),
    (LOAD + "\n  from: 12s\n  until: slow-exchange", "load.until",
     "expected a point after from (12s), got 7s"),
    (LOAD + "\n  until: 25s", "load.until", "expected a point by the end of the workload (20s), got 25s"),
    (LOAD + "\n  target: oms-blue", "load.target", "expected one of: oms, oms-primary, oms-dr"),
    (LOAD + "\n  target: front-door", "load.target", "preset active-passive has no front door"),
    (LOAD + "\n  target: oms\n  url: ws://127.0.0.1:9100/", "load", "either target"),
    (LOAD + "\n  url: ftp://127.0.0.1/", "load.url", "expected a URL with a host and a scheme of"),
    (LOAD + "\n  env: {GAMEDAY_HOSTS: x, lower: y}", "load.env", "got GAMEDAY_HOSTS, lower"),
    ("  locustfile: loads/oms_http.txt", "load.locustfile",
     "expected the path of a locustfile ending in .py"),
    (LOAD + "\n  shape: [{users: 5}]", "load.shape[0].for", "required key is missing"),
])
def test_a_malformed_load_is_one_line_with_its_path(load: str, path: str, message: str) -> None:
    line, yaml_path, text = _problem(_text(load))

    assert yaml_path == path
    assert message in text
    assert line is not None


def test_the_front_door_is_a_target_of_a_preset_that_has_one() -> None:
    text = _text(LOAD + "\n  target: front-door", preset="blue-green").replace(
        "oms-primary->exchange", "oms-blue->exchange").replace("target: oms-primary", "target: oms-blue")

    assert parse_scenario(text).load is not None


def test_a_missing_locustfile_is_refused_by_the_loader_beside_the_file(tmp_path: Path) -> None:
    (tmp_path / "loads").mkdir()
    (tmp_path / "loads" / "mine.py").write_text("# a locustfile\n")
    (tmp_path / "scenarios").mkdir()
    good = tmp_path / "scenarios" / "good.yaml"
    good.write_text(_text("  locustfile: ../loads/mine.py"))
    bad = tmp_path / "scenarios" / "bad.yaml"
    bad.write_text(_text("  locustfile: ../loads/theirs.py"))

    assert load_scenario(good).load is not None
    assert load_scenario(bad, check_files=False).load is not None  # a stored run's copy is re-graded
    with pytest.raises(ScenarioError) as caught:
        load_scenario(bad)
    [problem] = caught.value.problems
    assert (problem.line, problem.yaml_path) == (10, "load.locustfile")
    assert "no such file" in problem.message


def test_the_shipped_scenario_names_the_shipped_locustfile() -> None:
    path = REPO / "scenarios" / "failover-under-locust-load.yaml"
    scenario = load_scenario(path)
    plan = LoadPlan.of(scenario, path)

    assert plan is not None
    assert plan.locustfile == REPO / "loads" / "oms_http.py"
    assert scenario.known_defect is not None
    assert "load.failure_ratio@recovered" in scenario.known_defect.fails


@pytest.mark.parametrize(("expect", "path", "message"), [
    ("  load.failure_ratio@Bad: {max: 0}", 'expect["load.failure_ratio@Bad"]',
     "expected a label of lowercase"),
    ("  load.nope@x: {max: 0}", 'expect["load.nope@x"]', "unknown expectation; expected a checker name"),
    ("  load.failure_ratio: {max: 0, during: nothing}", 'expect["load.failure_ratio"].during',
     "expected the id of a fault of the timeline (primary-crash, slow-exchange)"),
    ("  load.failure_ratio: {max: 0, during: primary-crash, after: primary-crash}",
     'expect["load.failure_ratio"]', "expected either during or after, not both"),
    ("  load.failure_ratio: {max: 0, grace: 2s}", 'expect["load.failure_ratio"]', "expected during or after"),
    ("  orders.ghost: {equals: 0, after: primary-crash}", 'expect["orders.ghost"]',
     "orders.ghost does not take after"),
])
def test_labels_and_windows_of_expectations_are_checked(expect: str, path: str, message: str) -> None:
    _, yaml_path, text = _problem(_text(expect=expect))

    assert yaml_path == path
    assert message in text


def test_one_checker_twice_under_labels_with_its_own_window() -> None:
    expect = ("  load.failure_ratio@failover: {max: 0.5, during: primary-crash}\n"
              "  load.failure_ratio@recovered: {max: 0, after: slow-exchange, grace: 1.5s}")
    scenario = parse_scenario(_text(expect=expect))

    failover, recovered = scenario.expectations
    assert (failover.checker, failover.during, failover.after) == ("load.failure_ratio", "primary-crash",
                                                                   None)
    assert (recovered.name, recovered.after, recovered.grace) == ("load.failure_ratio@recovered",
                                                                  "slow-exchange", Duration(1_500_000_000))


def test_the_hosts_follow_the_target_and_a_url_stays_on_loopback() -> None:
    endpoints = StackEndpoints(oms={"oms-primary": "http://127.0.0.1:1", "oms-dr": "http://127.0.0.1:2"})
    scenario = parse_scenario(_text())
    assert scenario.load is not None
    every = scenario.load
    one = every.model_copy(update={"target": "oms-dr"})
    door = every.model_copy(update={"target": "front-door"})
    local = every.model_copy(update={"url": "ws://localhost:9100/"})
    remote = every.model_copy(update={"url": "ws://venue.example.com:9100/"})

    assert load_hosts(every, endpoints) == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
    assert load_hosts(one, endpoints) == ["http://127.0.0.1:2"]
    assert load_hosts(local, endpoints) == ["ws://localhost:9100/"]
    assert load_hosts(remote, endpoints, allow_remote=True) == ["ws://venue.example.com:9100/"]
    with pytest.raises(LoadError, match="off loopback"):
        load_hosts(remote, endpoints)
    with pytest.raises(LoadError, match="no such endpoint"):
        load_hosts(door, endpoints)
