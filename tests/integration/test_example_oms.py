"""The cold-standby example OMS (examples/cold_standby_oms) against the venue, as real processes.

The venue is ``python -m mock_exchange`` with a WebSocket account; the OMS is started by its
script path from a foreign working directory, the way a target file would start it. The tests
show what it does right (books every fill once, through duplicate and lost reports, survives a
venue restart, answers bad input with JSON) and what it gets wrong on purpose: a standby
started on the journal misses the fills executed while no instance ran and leaves the dead
instance's orders open at the venue.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.exchange_helpers import MOCK_EXCHANGE, exchange_process

pytestmark = pytest.mark.integration

OMS_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "cold_standby_oms" / "oms.py"
ACCOUNT, API_KEY = "desk", "desk-key"
SYMBOL = "BTC-USD"
START_PRICE = 60_000.0
RESTING_PRICE = 57_000.0  # 5 % below: a buy that fills only once the price falls
FAR_BELOW = 30_000.0  # a buy that never fills here
START_TIMEOUT_S = 20.0
SETTLE_TIMEOUT_S = 15.0
Json = Any


def venue_command(tmp_path: Path, ws_port: int = 0) -> list[str]:
    """One venue, one WebSocket account, fills certain on every step (``--fill-probability 1``)."""
    return [
        *MOCK_EXCHANGE,
        *("--fix-port", "0", "--admin-port", "0", "--ws-port", str(ws_port)),
        *("--ws-account", f"{ACCOUNT}:{API_KEY}", "--client-comp-id", "UNUSED"),
        *("--symbol", f"{SYMBOL}:{START_PRICE:g}", "--seed", "11", "--fill-probability", "1"),
        *("--ledger", str(tmp_path / "venue.jsonl"), "--log-level", "WARNING"),
    ]


@dataclass
class OmsChild:
    process: asyncio.subprocess.Process
    port: int
    log_path: Path

    async def kill(self) -> None:
        self.process.kill()
        await self.process.wait()

    async def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10.0):
            return await self.process.wait()


@asynccontextmanager
async def oms_process(tmp_path: Path, instance: str, ws_port: int) -> AsyncIterator[OmsChild]:
    """The example OMS on ``tmp_path/state``, started from ``tmp_path/cwd``; always left dead."""
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    log_path = tmp_path / f"{instance}.log"
    command = [
        sys.executable, str(OMS_SCRIPT), "--instance", instance, "--http-port", "0",
        "--venue-ws", f"ws://127.0.0.1:{ws_port}/", "--account", ACCOUNT, "--api-key", API_KEY,
        "--state-dir", str(tmp_path / "state"), "--ack-timeout", "3",
    ]  # fmt: skip
    with log_path.open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log_file,
        )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(START_TIMEOUT_S):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("READY http="), f"no READY line: {line!r}; log:\n{log_path.read_text()}"
        yield OmsChild(process, int(line.split("=", 1)[1]), log_path)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def call(
    port: int, method: str, path: str, body: Json = None, *, raw: bytes | None = None
) -> tuple[int, Json]:
    """An HTTP call to 127.0.0.1; the status and the JSON answer (``None`` for an empty body)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    headers = {"Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"http://127.0.0.1:{port}{path}", data=data, headers=headers) as response,
    ):
        text = await response.text()
        return response.status, (json.loads(text) if text else None)


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = SETTLE_TIMEOUT_S
) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` at the deadline."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)


async def deep_status(oms: OmsChild) -> int:
    try:
        status, _ = await call(oms.port, "GET", "/health/deep")
    except aiohttp.ClientError:
        return 0
    return status


async def wait_deep_healthy(oms: OmsChild) -> None:
    async def healthy() -> bool:
        return await deep_status(oms) == 200

    await eventually(healthy, f"the OMS is deep-healthy; log:\n{oms.log_path.read_text()}", START_TIMEOUT_S)


async def place(oms: OmsChild, side: str, qty: int, price: float | None = None) -> Json:
    order = {"symbol": SYMBOL, "side": side, "qty": qty, "type": "market" if price is None else "limit",
             "price": price, "tif": "day"}  # fmt: skip
    status, body = await call(oms.port, "POST", "/orders", order)
    assert status == 201, body
    return body


async def ledger(admin_port: int) -> Json:
    status, body = await call(admin_port, "GET", "/ledger")
    assert status == 200
    return body


def ledger_positions(snapshot: Json) -> dict[str, Any]:
    """The account's net position per symbol and its number of fills, from the venue's ledger."""
    ours = {order["order_id"] for order in snapshot["orders"] if order["sender_comp_id"] == ACCOUNT}
    positions: dict[str, int] = {}
    fills = [fill for fill in snapshot["fills"] if fill["order_id"] in ours]
    for fill in fills:
        signed = fill["qty"] if fill["side"] == "buy" else -fill["qty"]
        positions[fill["symbol"]] = positions.get(fill["symbol"], 0) + signed
    return {"positions": positions, "fills": len(fills)}


def venue_order(snapshot: Json, client_order_id: str) -> Json:
    return next(order for order in snapshot["orders"] if order["cl_ord_id"] == client_order_id)


async def orders_settled(admin_port: int, *client_order_ids: str) -> Json:
    """The ledger once every one of the orders is filled."""
    snapshot: Json = None

    async def filled() -> bool:
        nonlocal snapshot
        snapshot = await ledger(admin_port)
        return all(venue_order(snapshot, order_id)["status"] == "filled" for order_id in client_order_ids)

    await eventually(filled, f"orders {client_order_ids} are filled at the venue")
    return snapshot


async def positions_reach(oms: OmsChild, expected: dict[str, Any]) -> None:
    async def reached() -> bool:
        return (await call(oms.port, "GET", "/positions"))[1] == expected

    await eventually(reached, f"the OMS's positions are {expected}")


async def open_order_ids(oms: OmsChild) -> set[str]:
    status, orders = await call(oms.port, "GET", "/orders?status=open")
    assert status == 200
    return {order["order_id"] for order in orders}


async def test_a_cold_standby_restores_its_journal_but_misses_what_happened_while_down(
    tmp_path: Path,
) -> None:
    async with exchange_process(venue_command(tmp_path), tmp_path / "venue.log") as venue:
        admin, ws = venue.ports["admin"], venue.ports["ws"]
        async with oms_process(tmp_path, "oms-a", ws) as active:
            await wait_deep_healthy(active)
            assert (await call(active.port, "GET", "/role"))[1] == {"instance": "oms-a", "role": "active"}
            bought, sold = await place(active, "buy", 5), await place(active, "sell", 2)
            resting = await place(active, "buy", 3, price=RESTING_PRICE)  # fills only if the price falls
            ghost = await place(active, "buy", 4, price=FAR_BELOW)  # never fills
            assert (resting["status"], ghost["status"], ghost["instance"]) == ("new", "new", "oms-a")
            snapshot = await orders_settled(admin, bought["order_id"], sold["order_id"])
            before = ledger_positions(snapshot)
            assert before["positions"] == {SYMBOL: 3}
            await positions_reach(active, before)
            assert {venue_order(snapshot, o["order_id"])["instance"] for o in (bought, sold)} == {"oms-a"}
            assert await open_order_ids(active) == {resting["order_id"], ghost["order_id"]}
            await active.kill()  # kill -9: no goodbye, the journal is all that is left

        # While no OMS runs, the price falls 10 %: the resting buy fills at the venue.
        fall = {"symbol": SYMBOL, "move_pct": -10, "over_s": 0}
        assert (await call(admin, "PUT", "/faults/price_path", fall))[0] == 200
        while_down = await orders_settled(admin, resting["order_id"])
        assert (await call(admin, "DELETE", "/faults/price_path"))[0] == 204
        truth = ledger_positions(while_down)
        assert truth["positions"] == {SYMBOL: 6}

        async with oms_process(tmp_path, "oms-b", ws) as standby:
            await wait_deep_healthy(standby)
            assert (await call(standby.port, "GET", "/role"))[1] == {"instance": "oms-b", "role": "active"}
            restored = (await call(standby.port, "GET", "/positions"))[1]
            assert restored == before, "the standby restores the positions its predecessor journaled"
            assert restored != truth, "weakness: the fills executed while no instance ran are missed"
            # It knows the dead instance's orders from the journal, as they were when it died ...
            _, standby_open = await call(standby.port, "GET", "/orders?status=open")
            stale = next(order for order in standby_open if order["order_id"] == resting["order_id"])
            assert (stale["status"], stale["cum_qty"]) == ("new", 0)
            assert venue_order(while_down, resting["order_id"])["status"] == "filled"
            # ... and trades on from there: its positions stay off by what it missed.
            more = await place(standby, "buy", 1)
            after = await orders_settled(admin, more["order_id"])
            assert venue_order(after, more["order_id"])["instance"] == "oms-b"
            await positions_reach(standby, {"positions": {SYMBOL: 4}, "fills": before["fills"] + 1})
            assert ledger_positions(after)["positions"] == {SYMBOL: 7}
            # The dead instance's order was never canceled: a ghost at the venue.
            lingering = venue_order(await ledger(admin), ghost["order_id"])
            assert (lingering["status"], lingering["instance"]) == ("new", "oms-a")
            assert await standby.terminate() == 0
        assert "Traceback" not in (tmp_path / "oms-a.log").read_text() + (tmp_path / "oms-b.log").read_text()


async def test_bad_input_gets_a_json_4xx_and_the_oms_stays_up(tmp_path: Path) -> None:
    async with (
        exchange_process(venue_command(tmp_path), tmp_path / "venue.log") as venue,
        oms_process(tmp_path, "oms-a", venue.ports["ws"]) as oms,
    ):
        await wait_deep_healthy(oms)
        status, body = await call(oms.port, "POST", "/orders", raw=b'{"symbol": "BTC-USD", "side": ')
        assert (status, body["error"]) == (422, "bad request"), body
        assert "not JSON" in body["detail"]
        bad_bodies = {
            "qty": {"symbol": SYMBOL, "side": "buy", "qty": 0, "type": "market"},
            "side": {"symbol": SYMBOL, "side": ["buy"], "qty": 1, "type": "market"},
            "price": {"symbol": SYMBOL, "side": "buy", "qty": 1, "type": "limit"},
            "unknown field": {"symbol": SYMBOL, "side": "buy", "qty": 1, "type": "market", "account": "x"},
            "object": [SYMBOL],
        }
        for field, bad in bad_bodies.items():
            status, body = await call(oms.port, "POST", "/orders", bad)
            assert status == 422, (field, body)
            assert field in body["detail"], (field, body)
        status, body = await call(oms.port, "POST", "/orders", {"symbol": "DOGE-USD", "side": "buy", "qty": 1,
                                                                "type": "market"})  # fmt: skip
        assert (status, body["error"], body["order"]["status"]) == (502, "rejected", "rejected"), body
        assert "unknown symbol" in body["reason"]
        assert (await call(oms.port, "DELETE", "/orders/nope"))[0] == 404
        assert (await call(oms.port, "GET", "/orders?status=sideways"))[0] == 422
        assert (await call(oms.port, "GET", "/nowhere"))[1] == {"error": "not found"}
        resting = await place(oms, "buy", 1, price=FAR_BELOW)
        status, canceled = await call(oms.port, "DELETE", f"/orders/{resting['order_id']}")
        assert (status, canceled["status"]) == (200, "canceled")
        status, again = await call(oms.port, "DELETE", f"/orders/{resting['order_id']}")
        assert (status, again["error"]) == (409, "order is done")
        assert await deep_status(oms) == 200
        statuses = [order["status"] for order in (await ledger(venue.ports["admin"]))["orders"]]
        assert statuses == ["rejected", "canceled"], "a bad body never reaches the venue"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def arm_report_fault(admin_port: int, mode: str) -> None:
    fault = {"mode": mode, "probability": 1.0, "only": "fills", "session": ACCOUNT}
    status, body = await call(admin_port, "PUT", "/faults/execution_reports", fault)
    assert status == 200, body


async def test_books_each_fill_once_through_duplicate_and_lost_reports_and_a_venue_restart(
    tmp_path: Path,
) -> None:
    command = venue_command(tmp_path, ws_port=free_port())
    async with AsyncExitStack() as stack:
        venue = await stack.enter_async_context(exchange_process(command, tmp_path / "venue.log"))
        admin = venue.ports["admin"]
        oms = await stack.enter_async_context(oms_process(tmp_path, "oms-a", venue.ports["ws"]))
        await wait_deep_healthy(oms)

        await arm_report_fault(admin, "duplicate")  # every fill report arrives twice
        doubled = await place(oms, "buy", 4)
        truth = ledger_positions(await orders_settled(admin, doubled["order_id"]))
        await positions_reach(oms, truth)
        assert truth["positions"] == {SYMBOL: 4}

        await arm_report_fault(admin, "drop")  # no fill report arrives: a gap in seq
        lost = await place(oms, "sell", 3)
        truth = ledger_positions(await orders_settled(admin, lost["order_id"]))
        assert (await call(oms.port, "GET", "/positions"))[1]["positions"] == {SYMBOL: 4}, "it saw no report"
        assert (await call(admin, "DELETE", "/faults/execution_reports"))[0] == 204
        await place(oms, "buy", 1, price=FAR_BELOW)  # its report shows the gap: a resync follows
        await positions_reach(oms, truth)
        assert truth["positions"] == {SYMBOL: 1}

        assert await venue.terminate() == 0

        async def venue_lost() -> bool:
            return await deep_status(oms) == 503

        await eventually(venue_lost, "the OMS notices the venue is gone")
        status, body = await call(oms.port, "POST", "/orders", {"symbol": SYMBOL, "side": "buy", "qty": 1,
                                                                "type": "market"})  # fmt: skip
        assert (status, body["error"]) == (503, "venue not connected"), body
        restarted = await stack.enter_async_context(exchange_process(command, tmp_path / "venue.log"))
        await wait_deep_healthy(oms)  # reconnected by itself, with backoff
        after = await place(oms, "buy", 2)
        truth = ledger_positions(await orders_settled(restarted.ports["admin"], after["order_id"]))
        assert truth["positions"] == {SYMBOL: 3}
        await positions_reach(oms, truth)
        assert oms.process.returncode is None
