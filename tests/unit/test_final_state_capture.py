"""The final-state bracket: the OMS is read only after the venue has been quiet for the delivery time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gameday.history import History, OpKind, read_history
from gameday.probes import capture_final_state

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
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


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
