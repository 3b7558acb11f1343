"""The deployer gates on blue too (issue 10 item 6), over real processes: a blue SIGKILLed while green
is in shadow blocks the cutover, the deploy is aborted at the deadline without an action, and
green is left in shadow, never parked. With defect ``deploy-ignores-blue-health`` the incident
comes back: a cutover from the dead blue, and green parked by the rollback of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_deploy_service import QUICK, Deploy, deployment
from tests.integration.test_deploy_support import DeployBed, deploy_bed, pg_cache
from tests.integration.test_oms_support import wait_until

pytestmark = pytest.mark.integration

# long enough that blue is dead, and seen dead, well before the first cutover decision
WINDOWS = {**QUICK, "verification_window_s": 4.0, "verification_deadline_s": 8.0}


@pytest.fixture
async def bed(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeployBed]:
    async with deploy_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


async def kill_blue_once_green_is_in_shadow(deploy: Deploy) -> None:
    await wait_until(lambda: len(deploy.flow.answers) >= 5, 10, "orders through the front door")
    assert (await deploy.post("/deploy", {"version": "1.4.2"}))[0] == 202
    await deploy.reached("verifying")
    deploy.blue.proc.kill()
    assert await deploy.blue.proc.wait() == -9


def action_kinds(bed: DeployBed) -> list[str]:
    return [m["action"]["kind"] for m in bed.events_on("deploy.actions")]


async def role_of(bed: DeployBed, deploy: Deploy) -> Any:
    status, body = await bed.call(deploy.green, "GET", "/role")
    assert status == 200, body
    return body["role"]


async def test_a_dead_blue_blocks_the_cutover_and_nobody_is_parked(bed: DeployBed) -> None:
    async with deployment(bed, deployer_extra={"deploy": WINDOWS}) as deploy:
        await kill_blue_once_green_is_in_shadow(deploy)

        await deploy.reached("aborted", timeout_s=20)

        assert "cutting-over" not in deploy.phases()
        blocked = [m for m in bed.events_on("deploy.phases") if m["reason"] == "cutover-blocked"]
        assert any("blue-not-alive" in m["blockers"] for m in blocked), blocked
        assert any("blue not alive" in m["note"] for m in blocked)
        aborted = bed.events_on("deploy.phases")[-1]
        assert (aborted["previous"], aborted["reason"], aborted["batch"]) == (
            "verifying", "verification-timed-out", None)
        assert action_kinds(bed) == ["launch"]
        assert await role_of(bed, deploy) == "shadow"
        assert deploy.green.proc.returncode is None


async def test_defect_deploy_ignores_blue_health_cuts_over_from_a_dead_blue_and_parks_green(
    bed: DeployBed,
) -> None:
    extra = {"deploy": WINDOWS, "defects": ["deploy-ignores-blue-health"]}
    async with deployment(bed, deployer_extra=extra) as deploy:
        await kill_blue_once_green_is_in_shadow(deploy)

        await deploy.reached("failed", timeout_s=30)

        assert deploy.reasons()[2:] == ["cutover-started", "cutover-failed", "rollback-failed"]
        assert await role_of(bed, deploy) == "parked"
