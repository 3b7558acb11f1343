"""OMS processes against a real nats-server and a tiny FIX venue: trading, mirroring,
promotion with reconciliation, fencing of a paused primary, and the failover daemon."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from tests.integration.pg_single import pg_template, postgres
from tests.integration.test_oms_support import (
    ADMIN,
    Service,
    TinyVenue,
    deep_ok,
    get_json,
    nats_server,
    oms_config,
    role_of,
    service,
    wait_until,
)

pytestmark = pytest.mark.integration
__all__ = ["pg_template"]

LEASE = {"lease_ttl_s": 1.5, "lease_renew_interval_s": 0.25, "lease_safety_margin_s": 0.4}


@dataclass
class Stack:
    tmp: Path
    nats_url: str
    venue: TinyVenue
    http: aiohttp.ClientSession
    events: list[tuple[str, dict[str, Any]]]
    exit: contextlib.AsyncExitStack
    database_dsn: str

    async def oms(self, name: str, role: str, **extra: Any) -> Service:
        config = oms_config(name, role, self.venue.port, self.nats_url,
                            **{**LEASE, "database_dsn": self.database_dsn, **extra})
        svc = await self.exit.enter_async_context(service("trading_stack.oms", name, config, self.tmp))
        await wait_until(lambda: deep_ok(self.http, svc), 15, f"{name} deep health")
        return svc

    def subjects(self, suffix: str) -> list[dict[str, Any]]:
        return [body for subject, body in self.events if subject.endswith(f".{suffix}")]

    async def place(self, svc: Service, **order: Any) -> tuple[int, Any]:
        body = {"symbol": "BTC-USD", "side": "buy", "qty": 1, "type": "limit", "price": 100.0, **order}
        async with self.http.post(f"{svc.url}/orders", json=body) as response:
            return response.status, await response.json()


@pytest.fixture
async def stack(tmp_path: Path, pg_template: Path) -> AsyncIterator[Stack]:
    async with contextlib.AsyncExitStack() as exit_stack:
        pg = await exit_stack.enter_async_context(postgres(tmp_path, pg_template))  # promotions sync from it
        url = await exit_stack.enter_async_context(nats_server(tmp_path))
        venue = await exit_stack.enter_async_context(TinyVenue())
        http = await exit_stack.enter_async_context(aiohttp.ClientSession())
        nc: NatsClient = await nats.connect(url)
        exit_stack.push_async_callback(nc.close)
        events: list[tuple[str, dict[str, Any]]] = []

        async def record(msg: Msg) -> None:
            events.append((msg.subject, json.loads(msg.data)))

        await nc.subscribe("oms.>", cb=record)
        yield Stack(tmp_path, url, venue, http, events, exit_stack, pg.dsn)


async def test_active_trades_and_standby_mirrors_positions(stack: Stack) -> None:
    primary = await stack.oms("primary", "active")
    dr = await stack.oms("dr", "standby")
    assert await role_of(stack.http, primary) == "active"
    assert await role_of(stack.http, dr) == "standby"

    status, order = await stack.place(primary, qty=5, type="market", price=None)
    assert status == 201, order
    assert order["order_id"].startswith("primary-")
    status, resting = await stack.place(primary, side="sell", qty=2)
    assert status == 201, resting
    assert resting["status"] == "new"

    sent = stack.venue.app_messages("PRIMARY", "D")
    assert [m.fields[50] for m in sent] == ["primary", "primary"]
    expected = {"positions": {"BTC-USD": 5}, "fills": 1}
    await wait_until(lambda: get_json(stack.http, f"{primary.url}/positions"), 5, "primary position")
    assert (await get_json(stack.http, f"{primary.url}/positions"))[1] == expected

    async def dr_mirrored() -> bool:
        return (await get_json(stack.http, f"{dr.url}/positions"))[1] == expected

    await wait_until(dr_mirrored, 5, "standby mirror of the position")
    status, open_orders = await get_json(stack.http, f"{primary.url}/orders?status=open")
    assert [o["order_id"] for o in open_orders] == [resting["order_id"]]
    # the standby refuses orders and never talked to the venue
    status, refused = await stack.place(dr)
    assert (status, refused["error"], refused["role"]) == (503, "not active", "standby")
    assert stack.venue.app_messages("DR") == []

    async with stack.http.delete(f"{primary.url}/orders/{resting['order_id']}") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "canceled"
    async with stack.http.delete(f"{primary.url}/orders/{resting['order_id']}") as response:
        assert response.status == 409
    async with stack.http.delete(f"{primary.url}/orders/nope") as response:
        assert response.status == 404


async def test_bad_body_is_422_and_admin_needs_the_token(stack: Stack) -> None:
    primary = await stack.oms("primary", "active")
    async with stack.http.post(
        f"{primary.url}/orders", json={"symbol": "BTC-USD", "side": "buy"}
    ) as response:
        assert response.status == 422
    async with stack.http.post(f"{primary.url}/admin/kill-switch") as response:
        assert response.status == 401
    async with stack.http.post(f"{primary.url}/admin/kill-switch", headers=ADMIN) as response:
        assert response.status == 200
    status, body = await stack.place(primary)
    assert status == 503, body


async def test_kill_switch_halts_cancels_open_orders_and_flattens_every_position(stack: Stack) -> None:
    primary = await stack.oms("primary", "active")
    assert (await stack.place(primary, qty=3, type="market", price=None))[0] == 201
    assert (await stack.place(primary, symbol="ETH-USD", side="sell", qty=2, type="market", price=None))[
        0
    ] == 201
    status, resting = await stack.place(primary, qty=1)
    assert status == 201
    headers = {**ADMIN, "X-Operator": "alice"}
    async with stack.http.post(f"{primary.url}/admin/kill-switch", headers=headers) as response:
        assert response.status == 200
        trip = (await response.json())["trip"]
    assert (trip["reason"], trip["operator"]) == ("kill-switch", "alice")
    status, halted = await stack.place(primary, qty=1, type="market", price=None)
    assert (status, halted["error"]) == (503, "halted")

    async def flat() -> bool:
        return any(a["alert"] == "Flat" for a in stack.subjects("alerts"))

    await wait_until(flat, 10, "the Flat alert")
    assert stack.venue.open_orders() == []
    assert stack.venue.orders[resting["exchange_order_id"]].status == "4"
    sent = stack.venue.app_messages("PRIMARY", "D")[3:]
    flattening = [(m.fields[55], m.fields[54], m.fields[38]) for m in sent]
    assert sorted(flattening) == [("BTC-USD", "2", "3"), ("ETH-USD", "1", "2")]
    _, positions = await get_json(stack.http, f"{primary.url}/positions")
    assert positions == {"positions": {}, "fills": 4}
    async with stack.http.post(f"{primary.url}/admin/kill-switch", headers=ADMIN) as response:
        assert response.status == 409
    async with stack.http.post(f"{primary.url}/admin/rearm", headers=ADMIN) as response:
        assert response.status == 200
    assert (await stack.place(primary, qty=1, type="market", price=None))[0] == 201


async def test_promotion_after_crash_cancels_ghosts_adopts_known_orders_and_rebuilds_positions(
    stack: Stack,
) -> None:
    primary = await stack.oms("primary", "active")
    dr = await stack.oms("dr", "standby")
    status, known = await stack.place(primary, qty=4)
    assert status == 201
    stack.venue.fill(known["exchange_order_id"], 1)  # partially filled, still open
    await wait_until(lambda: stack.subjects("fills"), 5, "the fill on oms.fills")
    # acked by the venue, but the primary died before anyone heard of it
    ghost = stack.venue.add_ghost("PRIMARY", "primary", "primary-1-999", "ETH-USD", "2", 3, cum_qty=2)

    async def mirrored() -> bool:
        _, body = await get_json(stack.http, f"{dr.url}/orders?status=open")
        return [o["order_id"] for o in body] == [known["order_id"]]

    await wait_until(mirrored, 5, "the standby to know the open order")
    primary.proc.send_signal(signal.SIGKILL)
    await primary.proc.wait()

    async with stack.http.post(f"{dr.url}/admin/promote", headers=ADMIN) as response:
        assert response.status == 202
    async with stack.http.post(f"{dr.url}/admin/promote", headers=ADMIN) as response:
        assert response.status == 202  # idempotent
    await wait_until(lambda: deep_ok(stack.http, dr), 15, "the promoted DR to be ready")
    assert await role_of(stack.http, dr) == "active"
    assert stack.venue.logons[-1] == "DR"

    # the ghost is cancelled; the order the DR knew is adopted, open, and now the DR's to manage
    assert [o.cl_ord_id for o in stack.venue.open_orders()] == [known["order_id"]]
    assert stack.venue.orders[ghost.order_id].status == "4"
    alerts = stack.subjects("alerts")
    unknown = [a["detail"] for a in alerts if a["alert"] == "UnknownOpenOrder"]
    assert [(d["order_id"], d["source"]) for d in unknown] == [(ghost.cl_ord_id, "promotion")]
    report = next(a for a in alerts if a["alert"] == "PromotionReconciled" and a["instance"] == "dr")
    assert report["detail"]["orphan_canceled"] == []
    async with stack.http.delete(f"{dr.url}/orders/{known['order_id']}") as response:
        assert response.status == 200
    assert stack.venue.open_orders() == []
    # venue truth: 1 BTC bought on the known order, 2 ETH sold on the ghost (the mirror knew only BTC)
    _, positions = await get_json(stack.http, f"{dr.url}/positions")
    assert positions["positions"] == {"BTC-USD": 1, "ETH-USD": -2}
    roles = [(r["instance"], r["role"]) for r in stack.subjects("roles")]
    assert roles[-1] == ("dr", "active")
    status, order = await stack.place(dr, qty=1, type="market", price=None)
    assert status == 201
    assert order["instance"] == "dr"


async def test_paused_primary_fences_itself_and_never_sends_again(stack: Stack) -> None:
    primary = await stack.oms("primary", "active")
    dr = await stack.oms("dr", "standby")
    primary.proc.send_signal(signal.SIGSTOP)
    async with stack.http.post(f"{dr.url}/admin/promote", headers=ADMIN) as response:
        assert response.status == 202
    await wait_until(lambda: deep_ok(stack.http, dr), 15, "the DR to take over")
    sent_before = len(stack.venue.app_messages("PRIMARY"))
    primary.proc.send_signal(signal.SIGCONT)
    status, body = await stack.place(primary)
    assert status == 503, body
    assert body["role"] == "fenced"
    assert await role_of(stack.http, primary) == "fenced"
    assert not await deep_ok(stack.http, primary)
    assert len(stack.venue.app_messages("PRIMARY")) == sent_before
    assert ("primary", "fenced") in [(r["instance"], r["role"]) for r in stack.subjects("roles")]


async def test_active_without_venue_session_steps_down_when_dr_is_promoted(stack: Stack) -> None:
    primary = await stack.oms("primary", "active")
    dr = await stack.oms("dr", "standby")
    stack.venue.cut("PRIMARY")
    await wait_until(lambda: _not(deep_ok(stack.http, primary)), 10, "the primary to report not ready")
    assert await role_of(stack.http, primary) == "active"  # still holds the lease
    async with stack.http.post(f"{dr.url}/admin/promote", headers=ADMIN) as response:
        assert response.status == 202

    async def dr_active() -> bool:
        return await role_of(stack.http, dr) == "active" and await deep_ok(stack.http, dr)

    await wait_until(dr_active, 15, "the DR to take over from a primary without a venue session")
    assert await role_of(stack.http, primary) == "fenced"
    reasons = [r["reason"] for r in stack.subjects("roles") if r["instance"] == "primary"]
    assert any("stepped down for dr" in reason for reason in reasons), reasons


async def test_ready_primary_keeps_the_lease_when_a_dr_asks(stack: Stack) -> None:
    primary = await stack.oms("primary", "active")
    dr = await stack.oms("dr", "standby")
    async with stack.http.post(f"{dr.url}/admin/promote", headers=ADMIN) as response:
        assert response.status == 202
    # several renewals and step-down checks happen; the healthy holder must not hand over
    await wait_until(lambda: len([e for e in stack.events if e[0] == "oms.roles"]) >= 2, 5, "role events")
    for _ in range(3):
        status, _body = await stack.place(primary)
        assert status == 201
        await asyncio.sleep(0.5)
    assert await role_of(stack.http, primary) == "active"
    assert await role_of(stack.http, dr) == "standby"
    assert stack.venue.app_messages("DR") == []


async def _not(check: Any) -> bool:
    return not await check


async def test_no_fencing_defect_keeps_trading_after_a_pause(stack: Stack) -> None:
    primary = await stack.oms("primary", "active", defects=["no-fencing"])
    dr = await stack.oms("dr", "standby")
    primary.proc.send_signal(signal.SIGSTOP)
    async with stack.http.post(f"{dr.url}/admin/promote", headers=ADMIN) as response:
        assert response.status == 202
    await wait_until(lambda: deep_ok(stack.http, dr), 15, "the DR to take over")
    primary.proc.send_signal(signal.SIGCONT)

    async def trades_again() -> bool:  # its venue session may need a reconnect after the pause
        status, body = await stack.place(primary)
        assert body.get("role", "active") == "active", body
        return status == 201

    await wait_until(trades_again, 10, "the paused primary to trade again: the defect's two writers")
    assert await role_of(stack.http, primary) == "active"


async def test_clean_sigterm_logs_out_and_exits_zero(stack: Stack) -> None:
    primary = await stack.oms("primary", "active")
    primary.proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        assert await primary.proc.wait() == 0
    assert stack.venue.received[-1].msg_type == "5"
    assert stack.venue.received[-1].sender_comp_id == "PRIMARY"


async def test_logon_is_retried_while_the_venue_refuses(stack: Stack) -> None:
    stack.venue.refuse_logons = 3
    primary = await stack.oms("primary", "active")
    assert stack.venue.logons == ["PRIMARY"]
    assert len([r for r in stack.venue.received if r.msg_type == "A"]) == 4
    assert await role_of(stack.http, primary) == "active"


async def test_failover_daemon_promotes_dr_when_all_vantages_fail(stack: Stack) -> None:
    primary = await stack.oms("primary", "active")
    dr = await stack.oms("dr", "standby")
    daemon_config = {
        "http_port": 0,
        "primary_health_urls": [f"{primary.url}/health/deep", f"{primary.url}/health/deep"],
        "dr_admin_url": dr.url,
        "admin_token": "secret",
        "nats_url": stack.nats_url,
        "check_interval_s": 0.1,
        "health_timeout_s": 0.3,
        "confirmation_count": 3,
    }
    daemon = await stack.exit.enter_async_context(
        service("trading_stack.failover", "failover", daemon_config, stack.tmp)
    )
    status, body = await get_json(stack.http, f"{daemon.url}/status")
    assert status == 200
    assert body["state"] in ("healthy", "suspect")
    assert await role_of(stack.http, dr) == "standby"
    primary.proc.send_signal(signal.SIGKILL)
    await primary.proc.wait()

    async def dr_active() -> bool:
        return await role_of(stack.http, dr) == "active" and await deep_ok(stack.http, dr)

    await wait_until(dr_active, 15, "the daemon-promoted DR to be active and ready")
    decisions = [e["decision"] for e in stack.subjects("failover") if not e["heartbeat"]]
    assert decisions[-2:] == ["promote", "promoted"]
    daemon.proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        assert await daemon.proc.wait() == 0
