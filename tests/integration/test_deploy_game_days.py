"""The deployment game days, for real: the blue-green stack (venue, NATS, Postgres, blue and green
OMS, front door, deployer, every hop proxied) runs each scenario of docs/deploy.md §7 against the
correct reference stack and against the defect it must catch, graded from the history.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gameday.history import OpKind, read_history
from gameday.runner import HISTORY_FILE, RunOutcome, RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.scenario.deploy_spec import ClockSpec, DeploymentSpec
from gameday.scenario.presets import StackPreset
from gameday.stack.blue_green import BLUE, GREEN, BlueGreenStack
from gameday.stack.local import StackSettings
from gameday.stack.rundir import RunDir
from gameday.verdict import Verdict
from tests.integration.processes import alive

pytestmark = pytest.mark.integration

SCENARIOS = Path(__file__).parents[2] / "scenarios"
DEPLOYMENT_GAME_DAYS = (
    "canary-position-split",
    "bluegreen-clean-cutover",
    "shadow-lag",
    "sigterm-cancel-failure",
    "rollback-stale-blue",
    "shallow-health-cutover",
    "cron-timezone-deploy",
    "kill-switch-flatten",
    "auto-rollback-on-rejects",
)


def _evidence(outcome: RunOutcome, name: str) -> dict[str, Any]:
    return next(e.evidence for e in outcome.result.expectations if e.name == name)


def _services_left_running(outcome: RunOutcome) -> list[int]:
    """The run's processes still alive: every service it started, and every new boot of a restart."""
    ops = read_history(outcome.run_dir / HISTORY_FILE)
    start = next(op for op in ops if op.kind == OpKind.RUN and op.f == "start")
    pids = [service["pid"] for service in start.value["services"].values()]
    restarts = [op for op in ops if op.kind == OpKind.ACTION and op.f == "restart"]
    pids += [op.value["pid"] for op in restarts if "pid" in op.value]
    return [pid for pid in pids if alive(pid)]


CORRECT_EVIDENCE: dict[str, Callable[[RunOutcome], None]] = {
    "bluegreen-clean-cutover": lambda outcome: _assert_equal(
        _evidence(outcome, "deploy.cutover_gap")["first_after"]["instance"], GREEN
    ),
    "canary-position-split": lambda outcome: _assert_equal(
        _evidence(outcome, "deploy.live_versions")["together"], []
    ),
    "cron-timezone-deploy": lambda outcome: _assert_equal(
        _evidence(outcome, "deploy.in_market_hours")["actions"], []
    ),
    "rollback-stale-blue": lambda outcome: _assert_equal(
        _evidence(outcome, "positions.mismatch_bps")["active"], BLUE
    ),
}
"""What the correct run's evidence must show beyond its verdicts."""


def _assert_equal(found: object, expected: object) -> None:
    assert found == expected


@pytest.mark.parametrize("name", DEPLOYMENT_GAME_DAYS)
async def test_the_game_day_passes_correct_and_fails_for_its_reason_when_defective(
    name: str, tmp_path: Path
) -> None:
    path = SCENARIOS / f"{name}.yaml"
    scenario = load_scenario(path)
    assert scenario.known_defect is not None

    correct = await run_scenario(scenario, path, RunSettings(reports_root=tmp_path / "correct"))
    defective = await run_scenario(
        scenario,
        path,
        RunSettings(reports_root=tmp_path / "defect", extra_defects=scenario.known_defect.defects),
    )

    assert correct.error is None
    assert correct.result.verdict is Verdict.PASS, correct.result.model_dump_json(indent=1)
    CORRECT_EVIDENCE.get(name, lambda outcome: None)(correct)
    assert defective.error is None
    failing = {e.name for e in defective.result.expectations if e.verdict is Verdict.FAIL}
    assert set(scenario.known_defect.fails) <= failing, defective.result.model_dump_json(indent=1)
    assert _services_left_running(correct) == []
    assert _services_left_running(defective) == []
    assert (correct.run_dir / "timeline.svg").is_file()


async def test_the_blue_green_stack_starts_green_dormant_and_restarts_a_service_on_a_new_port(
    tmp_path: Path,
) -> None:
    clock = ClockSpec.model_validate({"start": "2026-11-20T15:00:00"})
    settings = StackSettings(
        run_dir=RunDir(tmp_path, "stack"),
        seed=3,
        preset=StackPreset.BLUE_GREEN,
        deployment=DeploymentSpec(clock=clock),
    )
    async with BlueGreenStack(settings) as stack, aiohttp.ClientSession() as session:
        headers = {"Authorization": f"Bearer {settings.admin_token}"}
        assert stack.endpoints.front_door is not None
        async with session.get(f"{stack.endpoints.front_door}/admin/upstreams", headers=headers) as answer:
            assert [u["instance"] for u in (await answer.json())["upstreams"]] == [BLUE]
        described = stack.describe()
        assert described["clock"]["anchor_ns"] == stack.anchor_ns
        assert set(described["services"]) == {
            "nats",
            "postgres",
            "toxiproxy",
            "exchange",
            BLUE,
            GREEN,
            "front-door",
            "deployer",
        }
        old_url, old_pid = stack.endpoints.oms[GREEN], stack.processes[GREEN].pid

        restarted = await stack.restart(GREEN, signal.SIGTERM, grace_s=10.0)

        assert restarted["exit_code"] == 0
        assert not restarted["killed_after_grace"]
        assert stack.processes[GREEN].pid == restarted["pid"] != old_pid
        assert stack.endpoints.oms[GREEN] != old_url
        assert not alive(old_pid)
        proxy = (await stack.toxiproxy.proxies())[f"front-door->{GREEN}"]  # type: ignore[union-attr]
        assert proxy["upstream"] == stack.endpoints.oms[GREEN].removeprefix("http://")
        async with session.get(f"http://{stack.endpoints.proxies[f'deployer->{GREEN}']}/role") as answer:
            assert (await answer.json())["role"] == "dormant"
        pids = [process.pid for process in stack.processes.values()]
    assert [pid for pid in pids if alive(pid)] == []
