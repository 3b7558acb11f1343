"""Stop lines (``stop_when``) decided on hand-built histories: crossed, not crossed, not enough evidence;
the live trigger that records the stop and cancels the timeline; the safety steps on a fake OMS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gameday.history import History, Op, OpKind, OpType
from gameday.operator import SAFETY_OPERATOR, Operator
from gameday.report.live import describe
from gameday.scenario.stop_spec import SafetyStep, StopSpec
from gameday.stop import STOP_F, StopTrigger, first_crossing, until_stopped
from tests.unit.history_builder import HistoryBuilder, ns

STANDBY = {"role": "standby", "deep_ok": True}
ACTIVE = {"oms-primary": {"role": "active", "deep_ok": True}, "oms-dr": STANDBY}
NONE_ACTIVE = {"oms-primary": {"role": None, "deep_ok": False}, "oms-dr": STANDBY}


def _spec(**lines: Any) -> StopSpec:
    return StopSpec.model_validate(lines)


def _started(at: float = 0.0, starts: float = 0.2) -> HistoryBuilder:
    history = HistoryBuilder().run_start(at=at)
    workload = {"phase": "workload", "starts_ns": ns(starts)}
    return history.add(OpKind.RUN, OpType.INFO, "runner", "phase", workload, at=at + 0.01)


def _health(history: HistoryBuilder, start: float, end: float, instances: dict[str, Any]) -> HistoryBuilder:
    t = start
    while t < end - 1e-9:
        history.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": instances}, at=t)
        t = round(t + 0.25, 6)
    return history


def _places(history: HistoryBuilder, start: float, end: float, every: float, outcome: OpType,
            status: int | None = None) -> HistoryBuilder:
    t = start
    while t < end - 1e-9:
        value = {"instance": "oms-primary", "order": {}} if outcome == OpType.OK else \
            {"error": "refused", **({"status": status} if status is not None else {})}
        history.add(OpKind.CLIENT, outcome, "worker-0", "place", value, at=t)
        t = round(t + every, 6)
    return history


# no_active_for

def test_no_active_for_crosses_once_no_instance_was_active_for_n_seconds() -> None:
    history = _health(_started(), 0.25, 3.0, ACTIVE)
    _health(history, 3.0, 10.0, NONE_ACTIVE)

    crossing = first_crossing(_spec(no_active_for="4s"), history.ops)

    assert crossing is not None
    assert crossing.condition == "no_active_for"
    assert crossing.t_ns == ns(7.0)  # the first sample without one was at 3.0s
    assert crossing.observed == 4.0
    assert crossing.reason == "stopped: no_active_for (4.0s without an active instance) at t+7.0s"


def test_no_active_for_is_not_crossed_when_an_instance_comes_back_in_time() -> None:
    history = _health(_started(), 0.25, 3.0, ACTIVE)
    _health(history, 3.0, 6.75, NONE_ACTIVE)
    _health(history, 6.75, 9.0, ACTIVE)
    _health(history, 9.0, 12.0, NONE_ACTIVE)  # 3s without one again: still under the line

    assert first_crossing(_spec(no_active_for="4s"), history.ops) is None


@pytest.mark.parametrize("case", ["no samples", "before the workload", "no workload phase", "after heal"])
def test_no_active_for_needs_samples_while_the_workload_runs(case: str) -> None:
    if case == "no samples":
        history = _started()
    elif case == "before the workload":
        history = _health(HistoryBuilder().run_start(at=0.0), 0.0, 10.0, NONE_ACTIVE)
        history.add(OpKind.RUN, OpType.INFO, "runner", "phase", {"phase": "workload", "starts_ns": ns(20.0)},
                    at=10.0)
    elif case == "no workload phase":
        history = _health(HistoryBuilder().run_start(at=0.0), 0.0, 10.0, NONE_ACTIVE)
    else:
        history = _health(_started(), 0.25, 3.0, ACTIVE)
        history.add(OpKind.RUN, OpType.INFO, "runner", "phase", {"phase": "heal"}, at=3.1)
        _health(history, 3.25, 10.0, NONE_ACTIVE)

    assert first_crossing(_spec(no_active_for="4s"), history.ops) is None


def test_an_unreadable_health_sample_is_no_evidence() -> None:
    history = _started()
    for t in range(1, 10):
        history.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": "garbled"}, at=float(t))

    assert first_crossing(_spec(no_active_for="2s"), history.ops) is None


# client_failure_ratio

def test_client_failure_ratio_crosses_when_most_placements_fail_over_the_window() -> None:
    history = _places(_started(), 0.3, 3.0, 0.1, OpType.OK)
    _places(history, 3.0, 8.0, 0.1, OpType.FAIL)

    crossing = first_crossing(_spec(client_failure_ratio={"max": 0.5, "over": "2s"}), history.ops)

    assert crossing is not None
    assert crossing.condition == "client_failure_ratio"
    assert crossing.observed > 0.5
    assert ns(4.0) <= crossing.t_ns <= ns(4.1)  # just over half of the last 2s failed
    assert "placements not ok in 2s" in crossing.figure


def test_client_failure_ratio_counts_unknown_outcomes_as_not_ok() -> None:
    history = _places(_started(), 0.3, 6.0, 0.1, OpType.INFO)

    crossing = first_crossing(_spec(client_failure_ratio={"max": 0.9, "over": "1s"}), history.ops)

    assert crossing is not None
    assert crossing.observed == 1.0


def test_client_failure_ratio_is_not_crossed_under_the_bound() -> None:
    history = _started()
    for t in range(3, 100):
        _places(history, t / 10, t / 10 + 0.01, 1, OpType.FAIL if t % 3 == 0 else OpType.OK)

    assert first_crossing(_spec(client_failure_ratio={"max": 0.4, "over": "2s"}), history.ops) is None


@pytest.mark.parametrize("case", ["too few orders", "window not yet elapsed"])
def test_client_failure_ratio_needs_enough_evidence(case: str) -> None:
    if case == "too few orders":
        history = _places(_started(), 0.5, 10.0, 1.0, OpType.FAIL)  # 2 a window, 10 needed
        spec = _spec(client_failure_ratio={"max": 0.1, "over": "2s"})
    else:
        history = _places(_started(), 0.3, 4.0, 0.05, OpType.FAIL)  # the workload ends before 5s
        spec = _spec(client_failure_ratio={"max": 0.1, "over": "5s"})

    assert first_crossing(spec, history.ops) is None


# rejects_per_s

def test_rejects_per_s_crosses_on_refusals_but_not_on_not_active() -> None:
    history = _places(_started(), 0.3, 4.0, 0.05, OpType.FAIL, status=503)  # not active: no reject
    _places(history, 4.0, 9.0, 0.1, OpType.FAIL, status=422)

    crossing = first_crossing(_spec(rejects_per_s={"max": 5, "over": "2s"}), history.ops)

    assert crossing is not None
    assert crossing.condition == "rejects_per_s"
    assert crossing.observed > 5
    assert ns(5.0) <= crossing.t_ns <= ns(5.3)


def test_rejects_per_s_is_not_crossed_under_the_bound_or_without_statuses() -> None:
    history = _places(_started(), 0.3, 10.0, 0.5, OpType.FAIL, status=422)  # 2 a second
    _places(history, 0.35, 10.0, 0.01, OpType.FAIL)  # no answer at all: not a reject

    assert first_crossing(_spec(rejects_per_s={"max": 3, "over": "2s"}), history.ops) is None


def test_the_first_line_crossed_is_the_one_reported() -> None:
    history = _health(_started(), 0.25, 2.0, ACTIVE)
    _health(history, 2.0, 10.0, NONE_ACTIVE)
    _places(history, 6.0, 10.0, 0.05, OpType.FAIL)

    spec = _spec(no_active_for="3s", client_failure_ratio={"max": 0.5, "over": "1s"})
    crossing = first_crossing(spec, history.ops)

    assert crossing is not None
    assert crossing.condition == "no_active_for"


# live: the trigger, the timeline it cancels, the console line

def _append(history: History, op: Op) -> None:
    history.append(op.kind, op.type, op.process, op.f, op.value, t_ns=op.t_ns)


async def test_the_trigger_records_the_stop_and_cancels_the_timeline() -> None:
    history = History()
    built = _health(_started(), 0.25, 1.0, ACTIVE)
    for op in built.ops[:3]:  # the start, the workload phase and a sample before the trigger exists
        _append(history, op)
    trigger = StopTrigger(_spec(no_active_for="1s"), history)
    cancelled = asyncio.Event()

    async def timeline() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            cancelled.set()

    async def probe() -> None:
        for op in _health(HistoryBuilder(), 1.0, 3.0, NONE_ACTIVE).ops:
            _append(history, op)
            await asyncio.sleep(0)

    feeding = asyncio.create_task(probe())
    stopped = await asyncio.wait_for(until_stopped(timeline(), trigger.stopped), 5)
    await feeding

    assert stopped is True
    assert cancelled.is_set()
    crossing = trigger.close()
    assert crossing is not None
    assert crossing.t_ns == ns(2.0)
    [stop] = [op for op in history.ops if op.kind == OpKind.RUN and op.f == STOP_F]
    assert stop.value["condition"] == "no_active_for"
    assert stop.value["reason"] == crossing.reason
    assert describe(stop) == (f"STOP {crossing.reason}; aborting the timeline, healing every fault, then the "
                              "safety steps")


async def test_a_timeline_that_ends_first_is_not_stopped_and_its_failure_is_raised() -> None:
    async def done() -> None:
        await asyncio.sleep(0)

    async def broken() -> None:
        raise RuntimeError("nemesis failed")

    assert await until_stopped(done(), asyncio.Event()) is False
    with pytest.raises(RuntimeError, match="nemesis failed"):
        await until_stopped(broken(), asyncio.Event())


# the safety steps

class FakeOms:
    def __init__(self, role: str = "active") -> None:
        self.role = role
        self.requests: list[tuple[str, str, str | None]] = []
        self.open = ["o-1", "o-2", "o-3"]
        self.held = {"BTC-USD": 5, "ETH-USD": 0}
        self.filled_per_flatten = 2  # a market order that fills in pieces

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path_qs, request.headers.get("X-Operator")))
        if request.path == "/role":
            return web.json_response({"role": self.role})
        if request.path == "/health/deep":
            return web.json_response({}, status=200)
        if request.path == "/orders" and request.method == "GET":
            return web.json_response([{"order_id": order_id} for order_id in self.open])
        if request.method == "DELETE":
            order_id = request.path.rsplit("/", 1)[-1]
            if order_id == "o-3":
                return web.json_response({"error": "order already done"}, status=409)
            self.open.remove(order_id)
            return web.json_response({"order_id": order_id, "status": "canceled"})
        if request.path == "/positions":
            return web.json_response({"positions": self.held, "fills": 0})
        if request.path in ("/admin/flatten", "/admin/kill-switch"):
            self.held = {symbol: max(0, qty - self.filled_per_flatten) for symbol, qty in self.held.items()}
            return web.json_response({"ok": True})
        return web.json_response({"error": "not found"}, status=404)


@pytest.fixture
async def oms() -> AsyncIterator[tuple[FakeOms, str]]:
    fake = FakeOms()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def _outcomes(history: History) -> list[tuple[str, OpType]]:
    return [(op.f, op.type) for op in history.ops if op.kind == OpKind.ACTION and op.type != OpType.INVOKE]


async def test_safety_steps_run_in_order_on_the_active_instance(
        oms: tuple[FakeOms, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gameday.operator.UNTIL_FLAT_S", 0.6)
    fake, url = oms
    history = History()
    async with aiohttp.ClientSession() as session:
        operator = Operator(session, {"oms-primary": url}, "t0ken", history)
        await operator.safety(list(SafetyStep), "stopped: x")

    assert _outcomes(history) == [("cancel-all", OpType.FAIL), ("flatten", OpType.OK),
                                  ("kill-switch", OpType.OK), ("until-flat", OpType.FAIL)]
    until_flat = history.ops[-1].value
    assert until_flat["open"] == 1, "o-3 could not be cancelled: never flattened over an open order"
    assert until_flat["held"] == {"BTC-USD": 1}
    assert until_flat["flattens"] == 0
    cancel = next(op for op in history.ops if op.f == "cancel-all" and op.type == OpType.FAIL)
    assert cancel.value["cancelled"] == 2
    assert cancel.value["refused"] == {"o-3": 409}
    assert next(op.value for op in history.ops if op.type == OpType.INVOKE) == {"safety": True,
                                                                               "reason": "stopped: x"}
    admin = [(method, path, who) for method, path, who in fake.requests if path.startswith("/admin")]
    assert admin == [("POST", "/admin/flatten", SAFETY_OPERATOR),
                     ("POST", "/admin/kill-switch", SAFETY_OPERATOR)]


async def test_after_a_flatten_the_operator_flattens_again_until_the_book_is_flat(
        oms: tuple[FakeOms, str]) -> None:
    fake, url = oms
    fake.open = []
    fake.held = {"BTC-USD": 5, "ETH-USD": -1}
    history = History()
    async with aiohttp.ClientSession() as session:
        operator = Operator(session, {"oms-primary": url}, "t0ken", history)
        await operator.safety([SafetyStep.FLATTEN], "stopped: x")

    assert _outcomes(history) == [("flatten", OpType.OK), ("until-flat", OpType.OK)]
    assert history.ops[-1].value["flattens"] == 2
    assert fake.held == {"BTC-USD": 0, "ETH-USD": 0}
    flattens = [path for _, path, _ in fake.requests if path == "/admin/flatten"]
    assert len(flattens) == 3


async def test_cancel_all_alone_waits_for_no_book(oms: tuple[FakeOms, str]) -> None:
    fake, url = oms
    history = History()
    async with aiohttp.ClientSession() as session:
        await Operator(session, {"oms-primary": url}, "t0ken", history).safety([SafetyStep.CANCEL_ALL], "x")

    assert _outcomes(history) == [("cancel-all", OpType.FAIL)]
    assert not [path for _, path, _ in fake.requests if path == "/positions"]


async def test_safety_steps_fail_on_record_when_no_instance_is_active(oms: tuple[FakeOms, str]) -> None:
    fake, url = oms
    fake.role = "standby"
    history = History()
    async with aiohttp.ClientSession() as session:
        await Operator(session, {"oms-dr": url}, "t0ken", history).safety([SafetyStep.FLATTEN], "stopped: x")

    assert _outcomes(history) == [("flatten", OpType.FAIL)]
    assert "no active OMS instance" in history.ops[-1].value["error"]
    assert not [path for _, path, _ in fake.requests if path.startswith("/admin")]
