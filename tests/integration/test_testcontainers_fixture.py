"""The ``gameday_stack`` fixture a team uses in its own tests: the reference stack on containers,
brought up by testcontainers, and a game day played on it with the harness's faults and checkers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gameday.stack.compose import docker_env
from gameday.verdict import Verdict
from reference_target.pytest_fixtures import ComposedStack

SCENARIO = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"

pytestmark = pytest.mark.integration


def test_a_failover_game_day_on_the_testcontainers_stack(gameday_stack: ComposedStack) -> None:
    outcome = gameday_stack.run(SCENARIO)

    assert outcome.error is None
    verdicts = {e.name: e.verdict for e in outcome.result.expectations}
    assert verdicts == dict.fromkeys(verdicts, Verdict.PASS), outcome.result.model_dump_json(indent=1)
    container = gameday_stack.target.services["oms-primary"].container
    assert container is not None
    state = subprocess.run(["docker", "inspect", "-f", "{{.State.Status}}", container], env=docker_env(),
                           capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    assert state == "exited"  # the scenario's SIGKILL reached the container through the Docker SDK
