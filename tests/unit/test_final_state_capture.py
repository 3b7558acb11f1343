"""The end-of-run captures: the OMS read after the venue has been quiet for the delivery time; the
database read until it holds every ledger fill or stops changing."""

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
