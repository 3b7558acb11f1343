"""The end-of-run captures: the OMS read after the venue has been quiet for the delivery time; the
database read until it holds every ledger fill, or the OMS says its store has drained, or (an OMS that
does not say) its fills stop changing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gameday import probes
from gameday.history import History, OpKind, OpType, read_history
from gameday.probes import capture_final_state
from gameday.store_drained import StoreState, all_drained, store_state
from tests.loopback_http import serving as loopback_serving

DELIVERY_S = 0.3  # how long the fake venue's reports take to reach the fake OMS (a WAN hop)
FILL_QTY = 7


class LaggingStack:
    """A venue that books one fill when first read, and an OMS that learns of it DELIVERY_S later."""

    def __init__(self) -> None:
        self.filled_at: float | None = None

    def _fills(self) -> list[dict[str, Any]]:
        return [{"exec_id": "E1", "qty": FILL_QTY}] if self.filled_at is not None else []

    async def ledger(self, _request: web.Request) -> web.Response:
        if self.filled_at is None:
            self.filled_at = time.monotonic()
        return web.json_response({"orders": [], "fills": self._fills()})

    async def positions(self, _request: web.Request) -> web.Response:
        arrived = self.filled_at is not None and time.monotonic() - self.filled_at >= DELIVERY_S
        return web.json_response({"positions": {"ETH-USD": FILL_QTY} if arrived else {}})

    async def role(self, _request: web.Request) -> web.Response:
        return web.json_response({"role": "active"})

    async def open_orders(self, _request: web.Request) -> web.Response:
        return web.json_response([])


@asynccontextmanager
async def serving(stack: LaggingStack) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/ledger", stack.ledger)
    app.router.add_get("/oms/positions", stack.positions)
    app.router.add_get("/oms/role", stack.role)
    app.router.add_get("/oms/orders", stack.open_orders)
    async with loopback_serving(app) as url:
        yield url


async def _capture(tmp_path: Path, quiet_s: float) -> dict[str, Any]:
    history = History(tmp_path / "history.jsonl")
    stack = LaggingStack()
    async with serving(stack) as url, aiohttp.ClientSession() as session:
        await capture_final_state(session, {"oms-dr": f"{url}/oms"}, url, history, quiet_s=quiet_s)
    history.close()
    final = [op for op in read_history(tmp_path / "history.jsonl") if op.kind == OpKind.PROBE]
    assert len(final) == 1
    return final[0].value


async def test_the_oms_is_read_after_reports_in_flight_have_arrived(tmp_path: Path) -> None:
    value = await _capture(tmp_path, quiet_s=DELIVERY_S + 0.1)

    assert value["stable"] is True
    assert value["quiet_s"] == DELIVERY_S + 0.1
    assert value["instances"]["oms-dr"]["positions"] == {"ETH-USD": FILL_QTY}


async def test_a_quiet_window_shorter_than_the_delivery_time_reads_the_oms_too_early(tmp_path: Path) -> None:
    value = await _capture(tmp_path, quiet_s=0.0)

    assert value["instances"]["oms-dr"]["positions"] == {}


class GrowingDatabase:
    """A database read that gains one of the ledger's fills per read until it holds ``final``."""

    def __init__(self, final: int) -> None:
        self.final = final
        self.reads = 0

    async def read(self, _dsn: str) -> dict[str, Any]:
        self.reads += 1
        held = min(self.reads, self.final)
        return {"fills": [{"exec_id": f"E{n}"} for n in range(held)], "orders": []}


def _history_with_ledger(tmp_path: Path, fills: int) -> History:
    history = History(tmp_path / "db-history.jsonl")
    history.append(OpKind.LEDGER, OpType.OK, "venue", "snapshot",
                   {"fills": [{"exec_id": f"E{n}"} for n in range(fills)], "orders": []})
    return history


async def _capture_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_fills: int,
                            database_fills: int) -> dict[str, Any]:
    database = GrowingDatabase(database_fills)
    monkeypatch.setattr(probes, "read_database", database.read)
    history = _history_with_ledger(tmp_path, ledger_fills)
    await probes.capture_database("postgresql://unused", history, settle_timeout_s=5.0, quiet_s=0.3)
    history.close()
    (captured,) = [op for op in history.ops if op.f == "database"]
    return captured.value


async def test_the_database_capture_waits_for_the_last_fills_being_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value = await _capture_database(tmp_path, monkeypatch, ledger_fills=5, database_fills=5)
    assert value["complete"] is True
    assert len(value["fills"]) == 5


async def test_a_database_that_stopped_changing_is_recorded_incomplete_without_waiting_out_the_bound(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value = await _capture_database(tmp_path, monkeypatch, ledger_fills=5, database_fills=3)
    assert value["complete"] is False
    assert len(value["fills"]) == 3
    assert 0.3 <= value["waited_s"] < 5.0


class DeepHealth:
    """An OMS instance's /health/deep: its store's report, or none (a target that does not report it)."""

    def __init__(self, store: dict[str, Any] | None) -> None:
        self.store = store
        self.asked = 0

    async def deep(self, _request: web.Request) -> web.Response:
        self.asked += 1
        body: dict[str, Any] = {"role": "active", "ready": True}
        if self.store is not None:
            body["store"] = self.store
        return web.json_response(body)


async def _capture_database_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 store: dict[str, Any] | None, settle_timeout_s: float = 5.0,
                                 ) -> tuple[dict[str, Any], DeepHealth]:
    database = GrowingDatabase(3)  # of the ledger's 5 fills: two never reach the database
    monkeypatch.setattr(probes, "read_database", database.read)
    health = DeepHealth(store)
    app = web.Application()
    app.router.add_get("/health/deep", health.deep)
    history = _history_with_ledger(tmp_path, 5)
    async with loopback_serving(app) as url, aiohttp.ClientSession() as session:
        await probes.capture_database("postgresql://unused", history, settle_timeout_s=settle_timeout_s,
                                      quiet_s=1.0, session=session, oms_urls={"oms-a": url, "oms-gone": "http://127.0.0.1:9"})
    history.close()
    (captured,) = [op for op in history.ops if op.f == "database"]
    return captured.value, health


async def test_a_drained_store_ends_the_database_wait_without_the_quiet_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value, health = await _capture_database_with(tmp_path, monkeypatch, {"drained": True, "writing": True})
    assert (value["complete"], value["settled_by"]) == (False, "drained")
    assert value["waited_s"] < 0.5  # well inside the 1 s quiet window
    assert health.asked >= 1


async def test_a_store_still_writing_is_waited_for_past_the_quiet_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value, _ = await _capture_database_with(tmp_path, monkeypatch, {"drained": False, "writing": True},
                                            settle_timeout_s=2.0)
    assert (value["complete"], value["settled_by"]) == (False, "timed_out")
    assert value["waited_s"] >= 2.0  # the database stopped changing after its third read, 1 s before


async def test_an_oms_that_does_not_report_its_store_falls_back_to_the_quiet_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value, _ = await _capture_database_with(tmp_path, monkeypatch, None)
    assert (value["complete"], value["settled_by"]) == (False, "quiet")
    assert 1.0 <= value["waited_s"] < 5.0


@pytest.mark.parametrize(("status", "body", "state"), [
    (200, {"store": {"drained": True, "writing": True}}, StoreState.DRAINED),
    (503, {"store": {"drained": False, "writing": True}}, StoreState.WRITING),
    (200, {"store": {"drained": False, "writing": False}}, StoreState.STOPPED),
    (200, {"store": {"queued": 0}}, StoreState.SILENT),
    (200, {"store": {"drained": "yes"}}, StoreState.SILENT),
    (200, ["not", "an", "object"], StoreState.SILENT),
    (0, {"error": "ClientConnectorError"}, StoreState.GONE),
])
def test_an_instance_store_state_is_read_from_its_deep_health(status: int, body: Any,
                                                             state: StoreState) -> None:
    assert store_state(status, body) is state


@pytest.mark.parametrize(("states", "drained"), [
    ((StoreState.DRAINED, StoreState.GONE), True),
    ((StoreState.DRAINED, StoreState.STOPPED), True),
    ((StoreState.DRAINED, StoreState.WRITING), False),
    ((StoreState.DRAINED, StoreState.SILENT), None),
    ((StoreState.GONE, StoreState.GONE), None),
])
def test_the_stack_has_drained_when_no_instance_writes_and_one_said_so(
        states: tuple[StoreState, ...], drained: bool | None) -> None:
    assert all_drained({f"oms-{n}": state for n, state in enumerate(states)}) is drained
