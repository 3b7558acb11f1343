"""Support for the OMS integration tests: a real nats-server, a tiny FIX venue, OMS processes.

The venue here is deliberately tiny and written with simplefix: enough of the §2 dialect
(Logon/Logout/Heartbeat/TestRequest, D, F, AF) to act as the OMS's counterparty.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nats
import pytest
import simplefix

ROOT = Path(__file__).resolve().parents[2]
NATS_SERVER = Path(sys.executable).parent / "nats-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(predicate: Any, timeout_s: float, what: str, interval_s: float = 0.05) -> Any:
    """Poll ``predicate`` (sync or async) until truthy; fail the test with ``what`` on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(interval_s)


# -- nats-server ------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def nats_server(tmp: Path) -> AsyncIterator[str]:
    port = free_port()
    store = tmp / "nats"
    store.mkdir()
    log = (tmp / "nats.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        str(NATS_SERVER),
        "-js",
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-sd",
        str(store),
        stdout=log,
        stderr=log,
    )
    url = f"nats://127.0.0.1:{port}"
    try:

        async def quiet(_err: Exception) -> None:
            return None

        async def js_ready() -> bool:
            try:
                nc = await nats.connect(url, connect_timeout=1, allow_reconnect=False, error_cb=quiet)
            except Exception:
                return False
            try:
                await nc.jetstream().account_info()
                return True
            except Exception:
                return False
            finally:
                await nc.close()

        await wait_until(js_ready, 10, "nats-server with JetStream")
        yield url
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


# -- a tiny FIX venue -------------------------------------------------------------------
@dataclass
class VenueOrder:
    order_id: str
    cl_ord_id: str
    sender_comp_id: str
    sub_id: str
    symbol: str
    side: str
    qty: int
    price: str | None
    cum_qty: int = 0
    status: str = "0"

    @property
    def open(self) -> bool:
        return self.status in ("0", "1")


@dataclass
class Received:
    sender_comp_id: str
    msg_type: str
    fields: dict[int, str]
    at: float


@dataclass
class _Conn:
    comp_id: str
    writer: asyncio.StreamWriter
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class TinyVenue:
    """A FIX 4.4 acceptor with an in-memory book; market orders fill at once."""

    def __init__(self, comp_id: str = "MOCKEX") -> None:
        self.comp_id = comp_id
        self.orders: dict[str, VenueOrder] = {}
        self.received: list[Received] = []
        self.logons: list[str] = []
        self.refuse_logons = 0
        self.blocked: set[str] = set()
        self._conns: dict[str, _Conn] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> TinyVenue:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for conn in self._conns.values():
            conn.writer.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def app_messages(self, sender: str, msg_type: str | None = None) -> list[Received]:
        return [
            r
            for r in self.received
            if r.sender_comp_id == sender
            and r.msg_type not in "0125A"
            and (msg_type is None or r.msg_type == msg_type)
        ]

    def open_orders(self) -> list[VenueOrder]:
        return [o for o in self.orders.values() if o.open]

    # -- wire --------------------------------------------------------------------------
    def _send(self, conn: _Conn, msg_type: str, fields: list[tuple[int, Any]]) -> None:
        msg = simplefix.FixMessage()
        msg.append_pair(8, "FIX.4.4", header=True)
        msg.append_pair(35, msg_type, header=True)
        msg.append_pair(49, self.comp_id, header=True)
        msg.append_pair(56, conn.comp_id, header=True)
        msg.append_pair(34, next(conn.seq), header=True)
        msg.append_utc_timestamp(52, header=True)
        for tag, value in fields:
            if value is not None:
                msg.append_pair(tag, value)
        conn.writer.write(msg.encode())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        parser = simplefix.FixParser()
        conn: _Conn | None = None
        try:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                parser.append_buffer(chunk)
                while (msg := parser.get_message()) is not None:
                    fields = {int(t): bytes(v).decode() for t, v in msg.pairs}
                    kind = fields[35]
                    sender = fields[49]
                    self.received.append(Received(sender, kind, fields, asyncio.get_running_loop().time()))
                    if kind == "A":
                        conn = _Conn(sender, writer)
                        if self.refuse_logons > 0 or sender in self.blocked:
                            self.refuse_logons = max(0, self.refuse_logons - 1)
                            self._send(conn, "5", [(58, "session cooldown")])
                            await writer.drain()
                            return
                        self._conns[sender] = conn
                        self.logons.append(sender)
                        self._send(conn, "A", [(98, 0), (108, fields.get(108, "30")), (141, "Y")])
                    elif conn is None:
                        return
                    else:
                        self._on_message(conn, kind, fields)
                    await writer.drain()
                    if kind == "5":
                        return
        finally:
            if conn is not None and self._conns.get(conn.comp_id) is conn:
                del self._conns[conn.comp_id]
            writer.close()
            self._handlers.discard(task)

    def _on_message(self, conn: _Conn, kind: str, f: dict[int, str]) -> None:
        if kind == "1":
            self._send(conn, "0", [(112, f.get(112))])
        elif kind == "5":
            self._send(conn, "5", [])
        elif kind == "D":
            order = VenueOrder(
                order_id=f"V{next(self._ids)}",
                cl_ord_id=f[11],
                sender_comp_id=conn.comp_id,
                sub_id=f.get(50, ""),
                symbol=f[55],
                side=f[54],
                qty=int(f[38]),
                price=f.get(44),
            )
            self.orders[order.order_id] = order
            self._report(conn, order, "0")
            if f[40] == "1":
                self.fill(order.order_id, order.qty)
        elif kind == "F":
            canceled = next((o for o in self.orders.values() if o.cl_ord_id == f[41]), None)
            if canceled is None or not canceled.open:
                self._send(
                    conn,
                    "9",
                    [
                        (37, canceled.order_id if canceled else "NONE"),
                        (11, f[11]),
                        (41, f[41]),
                        (39, canceled.status if canceled else "8"),
                        (434, 1),
                        (102, 1),
                        (58, "too late to cancel"),
                    ],
                )
                return
            canceled.status = "4"
            self._report(conn, canceled, "4", cl_ord_id=f[11], orig=canceled.cl_ord_id)
        elif kind == "AF":
            reports = list(self.orders.values())
            if not reports:
                self._send(
                    conn,
                    "8",
                    [
                        (37, "NONE"),
                        (17, self._exec_id()),
                        (150, "I"),
                        (39, "0"),
                        (584, f[584]),
                        (911, 0),
                        (912, "Y"),
                    ],
                )
            for index, order in enumerate(reports, 1):
                self._send(
                    conn,
                    "8",
                    [
                        *self._order_fields(order),
                        (17, self._exec_id()),
                        (150, "I"),
                        (584, f[584]),
                        (911, len(reports)),
                        (912, "Y" if index == len(reports) else "N"),
                    ],
                )

    def _exec_id(self) -> str:
        return f"E{next(self._ids)}"

    def _order_fields(self, order: VenueOrder, cl_ord_id: str | None = None) -> list[tuple[int, Any]]:
        return [
            (37, order.order_id),
            (11, cl_ord_id or order.cl_ord_id),
            (39, order.status),
            (55, order.symbol),
            (54, order.side),
            (38, order.qty),
            (44, order.price),
            (14, order.cum_qty),
            (151, order.qty - order.cum_qty if order.open else 0),
            (6, order.price or "100"),
            (57, order.sub_id),
        ]

    def _report(
        self,
        conn: _Conn,
        order: VenueOrder,
        exec_type: str,
        *,
        cl_ord_id: str | None = None,
        orig: str | None = None,
        last_qty: int = 0,
    ) -> None:
        fields = [*self._order_fields(order, cl_ord_id), (17, self._exec_id()), (150, exec_type), (41, orig)]
        if last_qty:
            fields += [(31, order.price or "100"), (32, last_qty)]
        self._send(conn, "8", fields)

    # -- test controls -----------------------------------------------------------------
    def cut(self, comp_id: str) -> None:
        """Drop the session of ``comp_id`` and refuse its logons (a one-sided partition)."""
        self.blocked.add(comp_id)
        conn = self._conns.pop(comp_id, None)
        if conn is not None:
            conn.writer.close()

    def fill(self, order_id: str, qty: int) -> None:
        """Trade ``qty`` of an open order; the report goes to the owner's session if connected."""
        order = self.orders[order_id]
        order.cum_qty += qty
        order.status = "2" if order.cum_qty >= order.qty else "1"
        conn = self._conns.get(order.sender_comp_id)
        if conn is not None:
            self._report(conn, order, "F", last_qty=qty)

    def add_ghost(
        self,
        sender_comp_id: str,
        sub_id: str,
        cl_ord_id: str,
        symbol: str,
        side: str,
        qty: int,
        cum_qty: int = 0,
    ) -> VenueOrder:
        """An order the venue has but no OMS ever reported (e.g. acked just before a crash)."""
        order = VenueOrder(
            f"V{next(self._ids)}",
            cl_ord_id,
            sender_comp_id,
            sub_id,
            symbol,
            side,
            qty,
            "100.00",
            cum_qty,
            "1" if cum_qty else "0",
        )
        self.orders[order.order_id] = order
        return order


# -- OMS / failover processes -----------------------------------------------------------
@dataclass
class Service:
    name: str
    proc: asyncio.subprocess.Process
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.asynccontextmanager
async def service(module: str, name: str, config: dict[str, Any], tmp: Path) -> AsyncIterator[Service]:
    """Run ``python -m module --config`` until the block ends (SIGTERM, then kill)."""
    config_path = tmp / f"{name}.json"
    config_path.write_text(json.dumps(config))
    log_path = tmp / f"{name}.log"
    log = log_path.open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        "--config",
        str(config_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
        cwd=str(ROOT),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(15):
            line = (await proc.stdout.readline()).decode()
        if not line.startswith("READY http="):
            pytest.fail(f"{name} did not announce READY: {line!r}\n{log_path.read_text()}")
        yield Service(name, proc, int(line.strip().split("=", 1)[1]), log_path)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


def oms_config(name: str, role: str, venue_port: int, nats_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "instance_id": name,
        "initial_role": role,
        "http_port": 0,
        "admin_token": "secret",
        "fix_port": venue_port,
        "fix_sender_comp_id": name.upper(),
        "fix_heartbeat_s": 1,
        "nats_url": nats_url,
        "database_dsn": f"postgresql://oms:oms@127.0.0.1:{free_port()}/oms",
        "logon_retry_initial_s": 0.05,
        "logon_retry_max_s": 0.2,
        **extra,
    }


ADMIN = {"Authorization": "Bearer secret"}


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as response:
        return response.status, await response.json()


async def deep_ok(http: aiohttp.ClientSession, svc: Service) -> bool:
    try:
        status, _ = await get_json(http, f"{svc.url}/health/deep")
    except aiohttp.ClientError:
        return False
    return status == 200


async def role_of(http: aiohttp.ClientSession, svc: Service) -> str:
    _, body = await get_json(http, f"{svc.url}/role")
    return str(body["role"])


# -- self-tests of the tiny venue -------------------------------------------------------
async def test_tiny_venue_refuses_then_accepts_logon() -> None:
    async with TinyVenue() as venue:
        venue.refuse_logons = 1
        for expected in ("5", "A"):
            reader, writer = await asyncio.open_connection("127.0.0.1", venue.port)
            logon = simplefix.FixMessage()
            for tag, value in ((8, "FIX.4.4"), (35, "A"), (49, "X"), (56, "MOCKEX"), (34, 1)):
                logon.append_pair(tag, value, header=True)
            logon.append_pair(98, 0)
            logon.append_pair(108, 1)
            writer.write(logon.encode())
            parser = simplefix.FixParser()
            async with asyncio.timeout(5):
                while (msg := parser.get_message()) is None:
                    parser.append_buffer(await reader.read(4096))
            assert msg.get(35) == expected.encode()
            writer.close()
        assert venue.logons == ["X"]
