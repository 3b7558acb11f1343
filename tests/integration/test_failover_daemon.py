"""The failover daemon over real OMS processes: nobody waits forever, and nobody flaps."""

from __future__ import annotations

import asyncio
import itertools
import signal
from typing import Any

import pytest

from tests.integration.pg_single import pg_template  # noqa: F401  (fixture)
from tests.integration.test_oms_failover import LEASE, Stack, stack  # noqa: F401  (fixture)
from tests.integration.test_oms_support import Service, deep_ok, role_of, service, wait_until

pytestmark = pytest.mark.integration

TRUST_S = LEASE["lease_ttl_s"] - LEASE["lease_safety_margin_s"]


async def start_daemon(stack: Stack, primary: Service, dr: Service) -> Service:  # noqa: F811
    config = {
        "http_port": 0,
        "primary_health_urls": [f"{primary.url}/health/deep", f"{primary.url}/health/deep"],
        "dr_admin_url": dr.url,
        "candidate_admin_urls": [dr.url, primary.url],
        "admin_token": "secret",
        "nats_url": stack.nats_url,
        "check_interval_s": 0.1,
        "health_timeout_s": 0.3,
        "confirmation_count": 3,
    }
    daemon = service("trading_stack.failover", "failover", config, stack.tmp)
    return await stack.exit.enter_async_context(daemon)


def decisions(stack: Stack) -> list[str]:  # noqa: F811
    return [e["decision"] for e in stack.subjects("failover") if not e["heartbeat"]]


async def active_and_ready(stack: Stack, svc: Service) -> bool:  # noqa: F811
    return await role_of(stack.http, svc) == "active" and await deep_ok(stack.http, svc)


async def test_a_dr_that_fenced_itself_after_the_failover_is_promoted_again(stack: Stack) -> None:  # noqa: F811
    primary = await stack.oms("primary", "active")
    dr = await stack.oms("dr", "standby")
    await start_daemon(stack, primary, dr)
    primary.proc.send_signal(signal.SIGKILL)
    await primary.proc.wait()
    await wait_until(lambda: active_and_ready(stack, dr), 15, "the DR to take over")
    # the DR stalls past its lease: it must fence itself, and then nobody is active
    dr.proc.send_signal(signal.SIGSTOP)
    await asyncio.sleep(TRUST_S + LEASE["lease_safety_margin_s"] + 0.5)  # the stall under test
    dr.proc.send_signal(signal.SIGCONT)
    roles = lambda: [(r["instance"], r["role"]) for r in stack.subjects("roles")]  # noqa: E731
    await wait_until(lambda: ("dr", "fenced") in roles(), 10, "the stalled DR to fence itself")
    await wait_until(lambda: active_and_ready(stack, dr), 20, "the daemon to promote the fenced DR again")
    assert decisions(stack).count("promote") == 2, decisions(stack)
    heartbeats = [e for e in stack.subjects("failover") if e["heartbeat"]]
    assert heartbeats, "the daemon published no heartbeat"
    status, order = await stack.place(dr, qty=1, type="market", price=None)
    assert status == 201, order


async def test_a_primary_stalling_briefly_and_repeatedly_causes_no_back_and_forth(stack: Stack) -> None:  # noqa: F811
    primary = await stack.oms("primary", "active")
    dr = await stack.oms("dr", "standby")
    await start_daemon(stack, primary, dr)
    await wait_until(lambda: [e for e in stack.subjects("failover") if e["heartbeat"]], 5, "a heartbeat")
    for _ in range(8):  # a 0.25 s stall every second: under the 3-check threshold each time
        primary.proc.send_signal(signal.SIGSTOP)
        await asyncio.sleep(0.25)
        primary.proc.send_signal(signal.SIGCONT)
        await asyncio.sleep(0.75)
        for svc in (primary, dr):  # whoever is active trades; the other must refuse
            await stack.place(svc)
    promotions = decisions(stack).count("promote")
    assert promotions <= 1, decisions(stack)
    writers = [r.sender_comp_id for r in stack.venue.received if r.msg_type in ("D", "F")]
    assert len(writers) >= 8, "the stack stopped trading during the stalls"
    switches = [pair for pair in itertools.pairwise(writers) if pair[0] != pair[1]]
    assert len(switches) <= 1, f"writers went back and forth: {switches}"
    roles: dict[str, Any] = {svc.name: await role_of(stack.http, svc) for svc in (primary, dr)}
    assert list(roles.values()).count("active") == 1, roles
