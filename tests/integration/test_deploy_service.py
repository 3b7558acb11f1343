"""The deployer process end to end (docs/deploy.md §3-§4): blue and a dormant green behind the front
door, the deployer driving them over HTTP while orders flow. A clean deploy cuts over in one step
and rolls back on request; a green that cannot reach the venue is never cut over; rejects after
the cutover roll back on their own; a schedule read in UTC deploys mid-session (seed 000)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_deploy_support import DeployBed, deploy_bed, pg_cache
from tests.integration.test_oms_support import ADMIN, Service, free_port, service, wait_until

pytestmark = pytest.mark.integration

QUICK = {"verification_window_s": 2.0, "verification_deadline_s": 6.0, "hold_s": 2.0, "report_max_age_s": 2.0}


@dataclass
class Flow:
    """Market orders through the front door, one every ``interval_s``; every answer kept."""

    bed: DeployBed
    door: Service
    answers: list[tuple[int, str]] = field(default_factory=list)

    async def run(self, interval_s: float = 0.1) -> None:
        while True:
            body = {"symbol": "BTC-USD", "side": "buy", "qty": 1, "type": "market"}
            async with self.bed.http.post(f"{self.door.url}/orders", json=body) as response:
                self.answers.append((response.status, response.headers.get("X-Upstream", "")))
            await asyncio.sleep(interval_s)


@dataclass
class Deploy:
    bed: DeployBed
    blue: Service
    green: Service
    door: Service
    deployer: Service
    flow: Flow

    def phases(self) -> list[str]:
        return [m["phase"] for m in self.bed.events_on("deploy.phases")]

    def reasons(self) -> list[str]:
        return [m["reason"] for m in self.bed.events_on("deploy.phases")]

    async def reached(self, phase: str, timeout_s: float = 30) -> None:
        await wait_until(lambda: phase in self.phases(), timeout_s, f"deploy phase {phase}: {self.phases()}")

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        return await self.bed.call(self.deployer, "POST", path, body, ADMIN)


@contextlib.asynccontextmanager
async def deployment(bed: DeployBed, *, green_extra: dict[str, Any] | None = None,
                     deployer_extra: dict[str, Any] | None = None) -> AsyncIterator[Deploy]:
    blue = await bed.oms("oms-blue", "active")
    green = await bed.oms("oms-green", "dormant", ready=False, **(green_extra or {}))
    urls = {"oms-blue": blue.url, "oms-green": green.url}
    door_config = {"http_port": 0, "admin_token": "secret", "nats_url": bed.nats_url, "instances": urls,
                   "upstreams": [{"instance": "oms-blue", "weight": 100}], "outcome_interval_s": 0.2}
    door = await bed.exit.enter_async_context(service("trading_stack.front_door", "front-door", door_config,
                                                      bed.tmp))
    deployer_config = {
        "http_port": 0, "admin_token": "secret", "nats_url": bed.nats_url, "front_door_admin_url": door.url,
        "oms_admin_urls": {"blue": blue.url, "green": green.url}, "deploy": QUICK, **(deployer_extra or {}),
    }
    deployer = await bed.exit.enter_async_context(service("trading_stack.deploy.service", "deployer",
                                                          deployer_config, bed.tmp))
    flow = Flow(bed, door)
    task = asyncio.create_task(flow.run())
    try:
        yield Deploy(bed, blue, green, door, deployer, flow)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def bed(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DeployBed]:
    async with deploy_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


async def test_a_clean_deploy_cuts_over_in_one_step_and_rolls_back_with_blue_restored(bed: DeployBed) -> None:
    async with deployment(bed) as deploy:
        await wait_until(lambda: len(deploy.flow.answers) >= 5, 10, "orders through the front door")
        status, accepted = await deploy.post("/deploy", {"version": "1.4.2"})
        assert (status, accepted["guarded"]) == (202, False)
        await deploy.reached("live")
        # green's venue session takes the venue's session setup (seed 002): verifying may wait on it
        phases = [phase for i, phase in enumerate(deploy.phases()) if deploy.phases()[i - 1:i] != [phase]]
        assert phases[:4] == ["launching", "verifying", "cutting-over", "live"]
        upstreams = bed.events_on("frontdoor.routes")[-1]["upstreams"]
        assert upstreams == [{"instance": "oms-green", "weight": 100}]
        served = len(deploy.flow.answers)
        await wait_until(lambda: len(deploy.flow.answers) >= served + 5, 10, "orders after the cutover")
        assert {u for _, u in deploy.flow.answers[served + 1:]} == {"oms-green"}
        instances = [u for _, u in deploy.flow.answers]
        assert instances == sorted(instances, key=lambda u: u == "oms-green")  # one switch, never back
        status, _ = await deploy.post("/rollback", {"operator": "alice"})
        assert status == 202
        await deploy.reached("rolled-back")
        unwinds = [a for a in bed.events_on("deploy.actions") if a["action"]["kind"] == "unwind"]
        assert [(a["action"]["instance"], a["ok"]) for a in unwinds] == [("oms-blue", True)]
        async with asyncio.timeout(10):
            assert await deploy.green.proc.wait() == 0  # stopped gracefully by the rollback
        await asyncio.sleep(0.3)
        assert {u for _, u in deploy.flow.answers[-2:]} == {"oms-blue"}
        assert {status for status, _ in deploy.flow.answers} == {201}

    async def blue_agrees_with_the_ledger() -> bool:  # resting orders may still fill after the flow stops
        _, positions = await bed.call(deploy.blue, "GET", "/positions")
        return bool(positions["positions"] == await bed.ledger_positions())

    await wait_until(blue_agrees_with_the_ledger, 5, "blue's positions to equal the ledger's")


async def test_a_green_that_cannot_log_on_is_never_cut_over(bed: DeployBed) -> None:
    async with deployment(bed, green_extra={"fix_port": free_port()}) as deploy:
        assert (await deploy.post("/deploy", {"version": "1.4.2"}))[0] == 202
        await deploy.reached("aborted")
        assert "cutting-over" not in deploy.phases()
        blocked = [m for m in bed.events_on("deploy.phases") if m["reason"] == "cutover-blocked"]
        assert any("green-unhealthy" in m["blockers"] for m in blocked)
        assert {u for _, u in deploy.flow.answers} == {"oms-blue"}
        assert {s for s, _ in deploy.flow.answers} == {201}


async def test_rejects_after_the_cutover_roll_back_on_their_own(bed: DeployBed) -> None:
    async with deployment(bed, deployer_extra={"deploy": {**QUICK, "reject_limit": 2}}) as deploy:
        assert (await deploy.post("/deploy", {"version": "1.4.2"}))[0] == 202
        await deploy.reached("live")
        status, _ = await bed.venue_api("PUT", "/faults/reject_new_orders", {"session": "OMS-GREEN"})
        assert status == 200
        await deploy.reached("rolled-back", timeout_s=15)
        assert "rejects-exceeded" in deploy.reasons()
        served = len(deploy.flow.answers)
        await wait_until(lambda: len(deploy.flow.answers) >= served + 3, 10, "orders after the rollback")
        assert {answer for answer in deploy.flow.answers[served + 1:]} == {(201, "oms-blue")}


async def test_a_deploy_is_refused_while_the_market_is_open(bed: DeployBed) -> None:
    clock = {"start": "2026-11-20T10:59:30", "tz": "America/New_York", "anchor_ns": time.monotonic_ns()}
    schedule = {"start": "16:00", "end": "20:00", "tz": "America/New_York", "max_volume": 0}
    async with deployment(bed, deployer_extra={"clock": clock, "schedule": schedule}) as deploy:
        status, refused = await deploy.post("/deploy", {"version": "1.4.3"})
        assert (status, refused["error"]) == (409, "market-not-closed")
        status, _ = await bed.call(deploy.deployer, "GET", "/status")
        assert status == 401


async def test_a_schedule_read_in_utc_deploys_mid_session(bed: DeployBed) -> None:
    """Seed 000: "16:00" on a UTC host is 11:00 in New York in November."""
    anchor = time.monotonic_ns()
    clock = {"start": "2026-11-20T10:59:58", "tz": "America/New_York", "anchor_ns": anchor}
    schedule = {"start": "16:00", "end": "20:00", "tz": "America/New_York"}
    extra = {"clock": clock, "schedule": schedule, "defects": ["no-market-hours-guard"]}
    async with deployment(bed, deployer_extra=extra) as deploy:
        await deploy.reached("launching", timeout_s=15)
        decisions = bed.events_on("deploy.schedule")
        fired = next(d for d in decisions if d["act"])
        assert (fired["guarded"], fired["phase"]) == (False, "open")
        assert fired["exchange_time"].startswith("2026-11-20T11:00")




async def test_defect_canary_deploy_puts_both_versions_live_at_once(bed: DeployBed) -> None:
    extra = {"defects": ["canary-deploy"], "deploy": {**QUICK, "canary_window_s": 30}}
    async with deployment(bed, deployer_extra=extra) as deploy:
        assert (await deploy.post("/deploy", {"version": "1.4.3"}))[0] == 202
        await deploy.reached("canary")
        served = len(deploy.flow.answers)
        await wait_until(lambda: len(deploy.flow.answers) >= served + 20, 15, "20 orders into the canary")
        window = deploy.flow.answers[served:served + 20]
        assert sorted(u for _, u in window).count("oms-green") == 2
        assert {s for s, _ in window} == {201}
        _, green_role = await bed.call(deploy.green, "GET", "/role")
        _, blue_role = await bed.call(deploy.blue, "GET", "/role")
        assert (blue_role["role"], green_role["role"], green_role["version"]) == ("active", "active", "1.4.3")


async def test_defect_non_atomic_cutover_routes_orders_to_a_green_still_in_shadow(bed: DeployBed) -> None:
    async with deployment(bed, deployer_extra={"defects": ["non-atomic-cutover"]}) as deploy:
        assert (await deploy.post("/deploy", {"version": "1.4.2"}))[0] == 202
        await deploy.reached("live")
        assert "split" in deploy.phases()
        assert (503, "oms-green") in deploy.flow.answers  # green was routed to while still a shadow
