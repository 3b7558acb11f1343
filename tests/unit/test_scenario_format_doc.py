"""docs/scenario-format.md's examples are scenarios the loader accepts (the page cannot drift)."""

import re
from pathlib import Path

import pytest

from gameday.faults.schedule import StepAction, plan
from gameday.scenario import ExchangeFault, parse_scenario

DOC = (Path(__file__).parents[2] / "docs" / "scenario-format.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.DOTALL)


def _scenario(preset: str, body: str) -> str:
    return (f"name: doc-example\ndescription: an example of the reference page\nseed: 1\n"
            f"stack: {{preset: {preset}}}\n"
            f"workload: {{orders_per_second: 10, symbols: [BTC-USD, ETH-USD], duration: 20s}}\n"
            f"{body}")


def _block(starting: str) -> list[str]:
    return [block for block in BLOCKS if block.lstrip().startswith(starting)]


def test_every_fault_example_loads() -> None:
    faults, venue = _block("timeline:")[0], _block("- {at: 5s, fault: exchange")[0]
    expect = "expect:\n  rto.failover: {max: 10s, from: primary-crash}\n"
    text = _scenario("active-passive", faults + venue + expect)

    scenario = parse_scenario(text, file="scenario-format.md")

    kinds = [fault.fault.value for fault in scenario.timeline]
    assert kinds[:9] == ["kill", "pause", "partition", "latency", "bandwidth", "reset_peer", "slicer",
                         "limit_data", "exchange"]
    assert len(scenario.timeline) == 19
    venue_kinds = [fault.kind.value for fault in scenario.timeline if isinstance(fault, ExchangeFault)]
    assert venue_kinds[-2:] == ["price_bands", "replay"]
    assert scenario.timeline[0].id == "primary-crash"


def test_every_action_example_loads() -> None:
    text = _scenario("blue-green", _block("actions:")[0] + "expect:\n  orders.ghost: 0\n")

    scenario = parse_scenario(text, file="scenario-format.md")

    assert [action.action.value for action in scenario.actions] == [
        "risk-limit", "resting-orders", "deploy", "rollback", "kill-switch", "rearm", "restart", "position"]


@pytest.mark.parametrize("starting", ["expect:", "known_defect:"])
def test_the_expect_and_known_defect_examples_load(starting: str) -> None:
    expect = _block("expect:")[0]
    timeline = "timeline:\n  - {at: 8s, fault: kill, target: oms-primary, id: primary-crash}\n"
    known = _block("known_defect:")[0] if starting == "known_defect:" else ""

    text = _scenario("active-passive", timeline + expect + known)

    scenario = parse_scenario(text, file="scenario-format.md")

    assert scenario.expect["rto.failover"].from_ == "primary-crash"
    assert "trading.available_at_end" in scenario.expect


def test_the_venue_fault_option_examples_load() -> None:
    options = _block("- {at: 3s, fault: exchange, kind: rate_limit, params: {max_orders: 5")[0]
    text = _scenario("active-passive", "timeline:\n" + options + "expect:\n  orders.ghost: 0\n")

    scenario = parse_scenario(text, file="scenario-format.md")

    params = [fault.params for fault in scenario.timeline if isinstance(fault, ExchangeFault)]
    assert [sorted(p) for p in params] == [["counts", "max_orders", "window_s"], ["mode", "only"],
                                           ["delay_s", "mix", "mode", "only"], ["mode", "on_heal"]]


def test_the_repeating_fault_example_loads_into_the_occurrences_it_describes() -> None:
    [repeats] = [block for block in BLOCKS if "every:" in block]
    text = _scenario("active-passive", repeats)

    scenario = parse_scenario(text, file="scenario-format.md")

    starts: dict[str, list[float]] = {}
    for step in plan(scenario.timeline):
        if step.action is StepAction.START:
            starts.setdefault(step.fault_id.split("#")[0], []).append(step.at_ns / 1e9)
    assert starts == {"f1-pause": [5, 9, 13, 17], "f2-partition": [2, 5, 8, 11], "f3-exchange": [1, 7, 13]}
    assert scenario.expect["rto.failover"].from_ == "stalls#2"


def test_the_load_example_and_the_labelled_expectations_load() -> None:
    timeline = "timeline:\n  - {at: 8s, fault: kill, target: oms-primary, id: primary-crash}\n"
    text = _scenario("active-passive", timeline + _block("load:")[0] + _block("expect:")[1])

    scenario = parse_scenario(text, file="scenario-format.md")

    assert scenario.load is not None
    assert [stage.users for stage in scenario.load.shape] == [10, 40]
    assert [expectation.checker for expectation in scenario.expectations] == [
        "load.failure_ratio", "load.failure_ratio", "load.p99_ms"]
    assert scenario.expect["load.failure_ratio@recovered"].after == "primary-crash"


def test_the_stop_when_example_loads() -> None:
    text = _scenario("active-passive", _block("stop_when:")[0] + "expect:\n  orders.ghost: 0\n")

    scenario = parse_scenario(text, file="scenario-format.md")

    assert scenario.stop_when is not None
    assert scenario.stop_when.no_active_for is not None
    assert scenario.stop_when.client_failure_ratio is not None
    assert scenario.stop_when.rejects_per_s is not None
    assert [step.value for step in scenario.safety or ()] == ["cancel-all", "flatten"]
