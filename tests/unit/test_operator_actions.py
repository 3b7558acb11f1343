"""The operator's deploy-stack actions against a fake deployer, OMS instances and front door on loopback."""

from __future__ import annotations

import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gameday.history import History, OpKind, OpType
from gameday.operator import Operator, OperatorEndpoints, operator_endpoints
from gameday.scenario.actions import (
    DeployAction,
    KillSwitchAction,
    PositionAction,
    RearmAction,
    RestartAction,
    RollbackAction,
    Side,
)
from gameday.scenario.duration import Duration
from gameday.scenario.faults import KillSignal
from gameday.scenario.presets import StackPreset
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from reference_target.blue_green import BlueGreenStack
from reference_target.local import LocalStack
from trading_stack.deploy.versions import OmsVersion

TOKEN = "t0ken"


class FakeStack:
    """Records what reached it; the deployer refuses deploys while ``market_open``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any], dict[str, str]]] = []
        self.market_open = False
        self.tripped = False

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.requests.append((request.path, body, dict(request.headers)))
        if request.path.startswith(("/deployer", "/blue/admin")) and \
                request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        return self._answer(request.path, body)

    def _answer(self, path: str, body: dict[str, Any]) -> web.Response:
        if path == "/deployer/deploy":
            if self.market_open:
                return web.json_response({"error": "market-not-closed", "exchange_time": "11:00"}, status=409)
            return web.json_response({"phase": "launching", "version": body["version"]}, status=202)
        if path == "/deployer/rollback":
            return web.json_response({"phase": "rolling-back"}, status=202)
        if path == "/blue/admin/kill-switch":
            if self.tripped:
                return web.json_response({"error": "already tripped"}, status=409)
            self.tripped = True
            return web.json_response({"trip": {"reason": "kill-switch"}})
        if path == "/blue/admin/rearm":
            if not self.tripped:
                return web.json_response({"error": "the breaker is not tripped"}, status=409)
            self.tripped = False
            return web.json_response({"state": "armed", "selected": "A"})
        if path == "/door/orders":
            return web.json_response({"order_id": "oms-blue-1-1", "instance": "oms-blue", **body}, status=201)
        return web.json_response({"error": "not found"}, status=404)


class FakeServices:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.restarts: list[tuple[str, signal.Signals, float]] = []

    async def restart(self, service: str, sig: signal.Signals, grace_s: float) -> dict[str, Any]:
        self.restarts.append((service, sig, grace_s))
        if self.fail:
            raise RuntimeError("oms-blue did not become ready")
        return {"exit_code": 0, "stopped_s": 1.5}


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeStack, str]]:
    stack = FakeStack()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", stack.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield stack, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


async def _play(base: str, *actions: Any, services: FakeServices | None = None) -> list[Any]:
    history = History()
    endpoints = OperatorEndpoints(oms={"oms-blue": f"{base}/blue", "oms-green": f"{base}/green"},
                                  deployer=f"{base}/deployer", front_door=f"{base}/door", services=services)
    async with aiohttp.ClientSession() as session:
        await Operator(session, endpoints, TOKEN, history).play(actions, started_ns=time.monotonic_ns())
    return [op for op in history.ops if op.kind == OpKind.ACTION]


async def test_deploy_and_rollback_go_to_the_deployer(fake: tuple[FakeStack, str]) -> None:
    stack, base = fake
    deploy = DeployAction(at=Duration(0), version=OmsVersion("1.4.3"))

    ops = await _play(base, deploy, RollbackAction(at=Duration(0), operator="alice"))

    assert [(op.f, op.type) for op in ops] == [("deploy", OpType.INVOKE), ("deploy", OpType.OK),
                                               ("rollback", OpType.INVOKE), ("rollback", OpType.OK)]
    assert ops[1].value == {"version": "1.4.3", "answer": {"phase": "launching", "version": "1.4.3"}}
    assert [(path, body) for path, body, _ in stack.requests] == [
        ("/deployer/deploy", {"version": "1.4.3"}), ("/deployer/rollback", {"operator": "alice"})]


async def test_a_refused_deploy_fails_with_the_deployers_reason(fake: tuple[FakeStack, str]) -> None:
    stack, base = fake
    stack.market_open = True

    [_, failed] = await _play(base, DeployAction(at=Duration(0), version=OmsVersion("1.4.2")))

    assert failed.type is OpType.FAIL
    assert failed.value["status"] == 409
    assert "market-not-closed" in failed.value["error"]


async def test_the_kill_switch_names_the_operator_and_trips_once(fake: tuple[FakeStack, str]) -> None:
    stack, base = fake
    kill = KillSwitchAction(at=Duration(0), target="oms-blue", operator="bob")

    ops = await _play(base, kill, kill)

    assert ops[1].type is OpType.OK
    assert ops[1].value == {"instance": "oms-blue", "operator": "bob", "trip": {"reason": "kill-switch"}}
    assert stack.requests[0][2]["X-Operator"] == "bob"
    assert (ops[3].type, ops[3].value["status"]) == (OpType.FAIL, 409)


async def test_a_rearm_names_the_operator_and_is_refused_when_nothing_is_tripped(
        fake: tuple[FakeStack, str]) -> None:
    stack, base = fake
    rearm = RearmAction(at=Duration(0), target="oms-blue", operator="carol")

    ops = await _play(base, KillSwitchAction(at=Duration(0), target="oms-blue", operator="bob"), rearm, rearm)

    assert ops[3].type is OpType.OK
    assert ops[3].value == {"instance": "oms-blue", "operator": "carol",
                            "answer": {"state": "armed", "selected": "A"}}
    assert stack.requests[1][2]["X-Operator"] == "carol"
    assert (ops[5].type, ops[5].value["status"]) == (OpType.FAIL, 409)


async def test_a_position_is_one_market_order_through_the_front_door(fake: tuple[FakeStack, str]) -> None:
    stack, base = fake

    [_, placed] = await _play(base, PositionAction(at=Duration(0), symbol="BTC-USD", side=Side.BUY, qty=40))

    assert placed.type is OpType.OK
    assert placed.value["instance"] == "oms-blue"
    assert stack.requests == [("/door/orders", {"symbol": "BTC-USD", "side": "buy", "qty": 40,
                                                "type": "market", "price": None, "tif": "day"},
                               stack.requests[0][2])]
    assert "Authorization" not in stack.requests[0][2]


async def test_a_restart_goes_through_the_stack_and_reports_its_failure(fake: tuple[FakeStack, str]) -> None:
    _, base = fake
    restart = RestartAction(at=Duration(0), target="oms-blue", signal=KillSignal.SIGTERM,
                            grace=Duration(15_000_000_000))
    services = FakeServices()

    [_, done] = await _play(base, restart, services=services)
    [_, failed] = await _play(base, restart, services=FakeServices(fail=True))
    [_, unsupported] = await _play(base, restart)

    assert services.restarts == [("oms-blue", signal.SIGTERM, 15.0)]
    assert done.value == {"target": "oms-blue", "signal": "SIGTERM", "exit_code": 0, "stopped_s": 1.5}
    assert failed.type is OpType.FAIL
    assert "did not become ready" in failed.value["error"]
    assert unsupported.value["error"] == "this stack cannot restart services"


async def test_deploy_actions_fail_cleanly_on_a_stack_without_a_deployer(fake: tuple[FakeStack, str]) -> None:
    _, base = fake
    history = History()
    async with aiohttp.ClientSession() as session:
        operator = Operator(session, {"oms-primary": f"{base}/primary"}, TOKEN, history)
        await operator.play([RollbackAction(at=Duration(0), operator="alice"),
                             KillSwitchAction(at=Duration(0), target="oms-blue", operator="alice")],
                            started_ns=time.monotonic_ns())

    failures = [op.value["error"] for op in history.ops if op.type is OpType.FAIL]
    assert failures == ["this stack has no deployer",
                        "no OMS instance 'oms-blue' in this stack (oms-primary)"]


def test_the_operator_follows_the_stacks_live_endpoints(tmp_path: Path) -> None:
    blue_green = BlueGreenStack(StackSettings(run_dir=RunDir(tmp_path, "s"), seed=1,
                                              preset=StackPreset.BLUE_GREEN))
    failover = LocalStack(StackSettings(run_dir=RunDir(tmp_path, "s"), seed=1))

    endpoints = operator_endpoints(blue_green)
    blue_green.endpoints.oms["oms-blue"] = "http://127.0.0.1:1"  # a restart moved it

    assert endpoints.services is blue_green
    assert endpoints.oms["oms-blue"] == "http://127.0.0.1:1"
    assert operator_endpoints(failover).services is None
    assert list(tmp_path.iterdir()) == []  # building a stack starts and writes nothing
