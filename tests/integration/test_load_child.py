"""The load child on its own: the shipped locustfiles driven through ``LoadRun`` against stand-ins on
loopback (an OMS pair answering like an active and a standby; a real venue's WebSocket API), their
statistics copied into the history, and the child stopped however the block ends."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gameday.checkers import GradingContext
from gameday.checkers.load import LoadFailureRatio, load_seconds
from gameday.history import History, OpKind
from gameday.load.run import LoadPlan, LoadRun
from gameday.scenario.load_spec import LoadSpec
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackEndpoints
from tests.integration.processes import alive, wait_for
from tests.loopback_http import serving

pytestmark = pytest.mark.integration

LOADS = Path(__file__).parents[2] / "loads"
SECOND_NS = 1_000_000_000


def _oms_app(active: bool) -> web.Application:
    """An OMS instance as the locustfile sees it: the active one serves, a standby answers 503."""
    orders = iter(range(1, 1_000_000))

    async def handle(request: web.Request) -> web.Response:
        if not active:
            return web.json_response({"error": "not active", "role": "standby"}, status=503)
        if request.method == "POST":
            return web.json_response({"order_id": f"o-{next(orders)}", "status": "new"}, status=201)
        if request.path == "/positions":
            return web.json_response({"positions": {}, "fills": 0})
        return web.json_response([] if request.method == "GET" else {"status": "canceled"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _plan(locustfile: str, seconds: float, **spec: object) -> LoadPlan:
    return LoadPlan(LoadSpec.model_validate({"locustfile": locustfile, **spec}), LOADS / locustfile,
                    start_offset_ns=0, stop_offset_ns=int(seconds * SECOND_NS), seed=5,
                    symbols=("BTC-USD", "ETH-USD"))


def _run_dir(tmp_path: Path) -> RunDir:
    run = RunDir(tmp_path, "load-child", scratch_root=None)
    run.create()
    return run


async def test_the_oms_locustfile_goes_past_a_standby_and_every_second_is_recorded(tmp_path: Path) -> None:
    history = History()
    run = _run_dir(tmp_path)
    async with serving(_oms_app(active=False)) as standby, serving(_oms_app(active=True)) as active:
        endpoints = StackEndpoints(oms={"oms-dr": standby, "oms-primary": active})  # the standby first
        plan = _plan("oms_http.py", 3.0, users=5, spawn_rate=50)
        async with LoadRun(plan, history, run, endpoints) as load:
            registered = json.loads((tmp_path / ".active" / f"{run.run_id}.load.json").read_text())
            load.begin(time.monotonic_ns() + SECOND_NS // 5)
            await asyncio.sleep(3.6)
    pid = load.pid

    kinds = [op.f for op in history.ops if op.kind == OpKind.LOAD]
    seconds = load_seconds(history.ops)
    ratio = LoadFailureRatio().check_in(history.ops, GradingContext())
    assert pid is not None
    assert [entry["pid"] for entry in registered["processes"]] == [pid]
    assert kinds[0] == "start"
    assert kinds[-2:] == ["stop", "exit"]
    assert len(seconds) >= 3
    assert sum(second.requests for second in seconds) > 20
    assert ratio.value == 0, ratio.evidence  # every call that met the standby went on to the active
    endpoints_seen = {name for op in history.ops if op.f == "stats" for name in op.value["endpoints"]}
    assert {"POST /orders limit", "GET /positions", "GET /orders?status=open"} <= endpoints_seen
    assert not alive(pid)
    assert not (tmp_path / ".active" / f"{run.run_id}.load.json").exists()
    assert (run.path / "load" / "oms_http.py").is_file()  # the run keeps the locustfile it ran


async def test_a_cancelled_run_stops_the_child_at_once(tmp_path: Path) -> None:
    history = History()
    started = asyncio.Event()
    pids: list[int] = []

    async def under_load(endpoints: StackEndpoints) -> None:
        plan = _plan("oms_http.py", 60.0, users=2)
        async with LoadRun(plan, history, _run_dir(tmp_path), endpoints) as load:
            assert load.pid is not None
            pids.append(load.pid)
            load.begin(time.monotonic_ns())
            started.set()
            await asyncio.sleep(60)

    async with serving(_oms_app(active=True)) as oms:
        task = asyncio.create_task(under_load(StackEndpoints(oms={"oms-primary": oms})))
        await asyncio.wait_for(started.wait(), 30)
        await asyncio.sleep(1.5)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    assert time.monotonic() - cancelled_at < 6
    assert not alive(pids[0])
    assert list((tmp_path / ".active").glob("*.json")) == []
    assert [op.value.get("reason") for op in history.ops if op.f == "stop"] == ["stopped"]


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[str]:
    """A standalone venue with its WebSocket API and three accounts (the stack's venue has none)."""
    accounts = [arg for number in (1, 2, 3) for arg in ("--ws-account", f"desk{number}:key{number}")]
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_exchange", "--client-comp-id", "OMS", "--ws-port", "0",
         "--ledger", str(tmp_path / "venue.ledger.jsonl"), *accounts],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        port = dict(pair.split("=") for pair in ready.split()[1:])["ws"]
        yield f"ws://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.communicate(timeout=10)


async def test_the_venue_locustfile_trades_over_the_websocket_api(tmp_path: Path, venue: str) -> None:
    history = History()
    plan = _plan("venue_ws.py", 2.5, url=venue, users=3, spawn_rate=30,
                 env={"VENUE_WS_ACCOUNTS": "desk1:key1,desk2:key2,desk3:key3"})
    async with LoadRun(plan, history, _run_dir(tmp_path), StackEndpoints()) as load:
        load.begin(time.monotonic_ns())
        await asyncio.sleep(3.0)

    seconds = load_seconds(history.ops)
    endpoints = {name for op in history.ops if op.f == "stats" for name in op.value["endpoints"]}
    assert sum(second.requests for second in seconds) > 10
    assert sum(second.failures for second in seconds) == 0
    assert {"WS place", "WS open_orders"} <= endpoints
    wait_for(lambda: load.pid is not None and not alive(load.pid), 5, "the load child to be gone")


async def test_the_web_ui_serves_on_loopback_while_the_load_runs(tmp_path: Path) -> None:
    history = History()
    lines: list[str] = []
    async with serving(_oms_app(active=True)) as oms:
        endpoints = StackEndpoints(oms={"oms-primary": oms})
        async with LoadRun(_plan("oms_http.py", 2.0, users=2), history, _run_dir(tmp_path), endpoints,
                           web_ui=True, progress=lines.append) as load:
            load.begin(time.monotonic_ns())
            [url] = [line.split(": ", 1)[1] for line in lines if line.startswith("locust web UI")]
            async with aiohttp.ClientSession() as session, session.get(f"{url}/stats/requests") as answer:
                stats = await answer.json()
            await asyncio.sleep(2.5)

    assert url.startswith("http://127.0.0.1:")
    assert answer.status == 200
    assert "stats" in stats
    [start] = [op for op in history.ops if op.f == "start"]
    assert start.value["web_ui"] == url


async def test_a_load_shape_runs_its_stages_then_stops_the_users(tmp_path: Path) -> None:
    history = History()
    shape = [{"for": "1.5s", "users": 1}, {"for": "1.5s", "users": 4}]
    async with serving(_oms_app(active=True)) as oms:
        plan = _plan("oms_http.py", 5.0, users=20, spawn_rate=50, shape=shape)
        endpoints = StackEndpoints(oms={"oms-primary": oms})
        async with LoadRun(plan, history, _run_dir(tmp_path), endpoints) as load:
            load.begin(time.monotonic_ns())
            await asyncio.sleep(5.5)

    users = [op.value["users"] for op in history.ops if op.f == "stats"]
    [start] = [op for op in history.ops if op.f == "start"]
    assert start.value["shape"] == "StagesShape"
    assert users[0] == 1
    assert max(users) == 4  # never the load's 20: the stages decide
    assert users[-1] == 0  # after the last stage the users stopped, before the load's until
