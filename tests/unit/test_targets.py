"""Targets: the reference stack comes in through the entry-point door; a target's vocabulary is what a
scenario may name (defects, builds, its own stack sections)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

import gameday.target
from gameday.errors import ScenarioError
from gameday.scenario import parse_scenario
from gameday.stack.protocol import Stack
from gameday.stack.settings import StackSettings
from gameday.target import DEFAULT_TARGET, TargetError, load_target, register_target, target_names
from trading_stack.defects import Defect

SCENARIO = """\
name: target-vocabulary
description: a scenario naming a defect of its target
seed: 1
stack:
  preset: active-passive
  defects: [{defect}]
workload: {{orders_per_second: 5, symbols: [BTC-USD], duration: 2s}}
expect:
  orders.ghost: 0
"""


class _Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: str


class _TinyTarget:
    name = "tiny"
    defects: Mapping[str, str] = {"forgets-orders": "drops every order it accepted"}
    versions: tuple[str, ...] = ("7",)

    def section(self, key: str, value: Any) -> Any:
        return _Window.model_validate(value)

    def stack(self, settings: StackSettings) -> Stack:
        raise NotImplementedError


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> Iterator[_TinyTarget]:
    target = _TinyTarget()
    monkeypatch.setattr(gameday.target, "_registered", {})
    register_target(target)
    yield target
    gameday.target.forget_loaded_targets()


def test_the_reference_target_is_installed_through_its_entry_point() -> None:
    import reference_target

    assert DEFAULT_TARGET in target_names()
    assert load_target() is reference_target.TARGET


def test_the_reference_target_names_every_defect_of_the_reference_stack() -> None:
    assert set(load_target().defects) == {defect.value for defect in Defect}
    assert all(load_target().defects.values())


def test_an_unknown_target_names_the_entry_point_group() -> None:
    with pytest.raises(TargetError, match=r"no target named 'nope'.*gameday\.targets"):
        load_target("nope")


def test_a_defect_is_checked_against_the_scenarios_target(tiny: _TinyTarget) -> None:
    scenario = parse_scenario(SCENARIO.format(defect="forgets-orders"), target=tiny)
    assert scenario.stack.defects == ("forgets-orders",)

    with pytest.raises(ScenarioError) as raised:
        parse_scenario(SCENARIO.format(defect="no-fencing"), file="s.yaml", target=tiny)
    [problem] = raised.value.problems
    assert problem.yaml_path == "stack.defects[0]"
    assert "expected a known defect of target 'tiny' (forgets-orders)" in problem.message


def test_the_default_target_is_the_reference_stack() -> None:
    assert parse_scenario(SCENARIO.format(defect="no-fencing")).stack.defects == ("no-fencing",)
    with pytest.raises(ScenarioError, match="forgets-orders"):
        parse_scenario(SCENARIO.format(defect="forgets-orders"))


def test_a_targets_own_section_is_validated_by_its_model_at_its_yaml_path(tiny: _TinyTarget) -> None:
    deploying = ("  preset: blue-green\n"
                 "  clock: {start: '2026-11-20T10:00:00'}\n"
                 "  schedule: {start: '16:00', colour: red}\n")
    text = SCENARIO.format(defect="forgets-orders").replace("  preset: active-passive\n", deploying)
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(text, file="s.yaml", target=tiny)
    paths = {problem.yaml_path for problem in raised.value.problems}
    assert "stack.schedule.colour" in paths
