"""pytest fixtures of the reference target (entry point ``pytest11``): ``gameday_stack`` gives a test
the reference stack as a compose project brought up by testcontainers, and a way to play game days
on it with the harness's faults, history and checkers::

    def test_my_failover(gameday_stack):
        outcome = gameday_stack.run("scenarios/failover-primary-crash.yaml")
        assert outcome.result.exit_code == 0

It needs a Docker engine (``DOCKER_HOST``, or compose/engine.sh's own). The project runs under a
name and a port block of its own, and is taken down with its volumes when the test ends.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the harness is imported where a test uses the fixture, not at every pytest start
    from gameday.runner import RunOutcome
    from gameday.target_file import TargetFile

__all__ = ["ComposedStack", "gameday_stack"]



@dataclass
class ComposedStack:
    """A running reference stack and the target file that reaches it."""

    target: TargetFile
    reports: Path
    admin_token: str

    def run(self, scenario: str | Path) -> RunOutcome:
        """Play ``scenario`` on this stack: its faults, its history, its verdicts (``outcome.result``)."""
        from gameday.runner import RunSettings, run_scenario
        from gameday.scenario import load_scenario

        path = Path(scenario)
        settings = RunSettings(reports_root=self.reports, target_file=self.target,
                               admin_token=self.admin_token)
        return asyncio.run(run_scenario(load_scenario(path), path, settings))


@pytest.fixture
def gameday_stack(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[ComposedStack]:
    from testcontainers.compose import DockerCompose  # only where the fixture is used

    from gameday.scenario.presets import StackPreset
    from gameday.stack.compose import docker_env, project_name
    from gameday.stack.rundir import new_run_id
    from reference_target.compose import COMPOSE_DIR, compose_target, free_prefix, offline

    for name, value in docker_env().items():  # testcontainers runs `docker compose` with os.environ
        if name == "DOCKER_HOST":
            monkeypatch.setenv(name, value)
    run_id, admin_token = new_run_id(), secrets.token_urlsafe(18)
    project, prefix = project_name(run_id), free_prefix(run_id)
    work = tmp_path_factory.mktemp("gameday-stack")
    env_file = work / "compose.env"
    env_file.write_text("\n".join(f"{key}={value}" for key, value in {
        "COMPOSE_PROJECT_NAME": project, "COMPOSE_PROFILES": "active-passive",
        "GAMEDAY_PORT_PREFIX": prefix, "GAMEDAY_ADMIN_TOKEN": admin_token, "GAMEDAY_SEED": 1,
        "GAMEDAY_DEFECTS": "[]", "GAMEDAY_DEPLOY": json.dumps({"blue": "oms-blue", "green": "oms-green"}),
    }.items()) + "\n")
    files = ["docker-compose.yml", *(["offline.yml"] if offline() else [])]
    compose = DockerCompose(COMPOSE_DIR, compose_file_name=files, env_file=str(env_file), wait=True)
    compose.start()
    try:
        yield ComposedStack(compose_target(StackPreset.ACTIVE_PASSIVE, project, prefix, admin_token),
                            work / "reports", admin_token)
    finally:
        compose.stop(down=True)  # down --volumes (keep_volumes is False)
