"""The blue-green stack for real (venue, NATS, Postgres, blue and green OMS, front door, deployer,
every hop proxied). Each deployment game day runs correct and defective in the detection-matrix
test (tests/integration/test_detection_matrix.py), which also checks their evidence.
"""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp
import pytest

from gameday.scenario.deploy_spec import ClockSpec, DeploymentSpec
from gameday.scenario.presets import StackPreset
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from reference_target.blue_green import BLUE, GREEN, BlueGreenStack
from tests.integration.processes import alive

pytestmark = pytest.mark.integration



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
