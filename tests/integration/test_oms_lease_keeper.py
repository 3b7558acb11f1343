"""The lease keeper against a real nats-server: renewals that the OMS's own loop cannot starve."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.integration.test_oms_lease import kv, lease, nats_url, nc  # noqa: F401  (fixtures)
from tests.integration.test_oms_support import wait_until
from trading_stack.lease import LEASE_KEY
from trading_stack.lease_keeper import LeaseKeeper

pytestmark = pytest.mark.integration

TTL = 1.0  # as the lease tests' bucket: trust lasts TTL - 0.3 s after a renewal is sent
INTERVAL = 0.2


def keeper_for(held: Any, url: str, lost: list[str]) -> LeaseKeeper:
    return LeaseKeeper(held, url, "oms_lease", TTL, INTERVAL, lost.append, asyncio.get_running_loop(), "a")


async def test_a_blocked_event_loop_does_not_stop_renewals(kv: Any, nats_url: str) -> None:  # noqa: F811
    held = lease(kv, "a")
    assert await held.try_acquire()
    lost: list[str] = []
    keeper = keeper_for(held, nats_url, lost)
    keeper.start()
    try:
        await wait_until(lambda: keeper.renewals >= 1, 5, "the keeper's first renewal")
        time.sleep(3 * TTL)  # noqa: ASYNC251  the OMS's loop is busy for three lease lifetimes: nothing of it runs
        assert held.valid(), "trust ran out although the keeper was free to renew"
        assert keeper.renewals >= 5
        assert lost == []
        rival = lease(kv, "b")
        assert not await rival.try_acquire()
    finally:
        await keeper.stop()


async def test_a_renewal_refused_by_nats_reports_the_loss_on_the_owner_loop(
        kv: Any, nats_url: str) -> None:  # noqa: F811
    held = lease(kv, "a")
    assert await held.try_acquire()
    lost: list[str] = []
    keeper = keeper_for(held, nats_url, lost)
    keeper.start()
    try:
        await wait_until(lambda: keeper.renewals >= 1, 5, "the keeper's first renewal")
        await kv.delete(LEASE_KEY)  # someone else's hand on the key: the next update is refused
        await wait_until(lambda: lost, 5, "the keeper to report the lost lease")
        assert "renewal failed" in lost[0]
        assert not held.valid()
    finally:
        await keeper.stop()


async def test_a_lease_released_locally_is_not_renewed_back(kv: Any, nats_url: str) -> None:  # noqa: F811
    held = lease(kv, "a")
    assert await held.try_acquire()
    lost: list[str] = []
    keeper = keeper_for(held, nats_url, lost)
    keeper.start()
    try:
        await wait_until(lambda: keeper.renewals >= 2, 5, "two renewals")
        held.release_local()  # fenced
        renewals = keeper.renewals
        await asyncio.sleep(3 * INTERVAL)  # the interval under test: three renewals would be due
        assert keeper.renewals == renewals
        assert not held.valid()
        assert lost == []
    finally:
        await keeper.stop()
