"""The lease keeper against a real nats-server: renewals that the OMS's own loop cannot starve."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.integration.test_oms_lease import kv, lease, nats_url, nc  # noqa: F401  (fixtures)
from tests.integration.test_oms_support import wait_until
from trading_stack.lease import LEASE_KEY, Lease
from trading_stack.lease_keeper import LeaseKeeper

pytestmark = pytest.mark.integration

TTL = 1.0  # as the lease tests' bucket: trust lasts TTL - 0.3 s after a renewal is sent
INTERVAL = 0.2


@dataclass
class Kept:
    held: Lease
    keeper: LeaseKeeper
    lost: list[str] = field(default_factory=list)


@contextlib.asynccontextmanager
async def kept(kv: Any, url: str, renewals: int = 1) -> AsyncIterator[Kept]:  # noqa: F811
    """Instance ``a`` holds the lease and its keeper has renewed it ``renewals`` times."""
    held = lease(kv, "a")
    assert await held.try_acquire()
    lost: list[str] = []
    keeper = LeaseKeeper(held, url, "oms_lease", TTL, INTERVAL, lost.append, asyncio.get_running_loop(), "a")
    keeper.start()
    try:
        await wait_until(lambda: keeper.renewals >= renewals, 5, f"{renewals} renewal(s) by the keeper")
        yield Kept(held, keeper, lost)
    finally:
        await keeper.stop()


async def test_a_blocked_event_loop_does_not_stop_renewals(kv: Any, nats_url: str) -> None:  # noqa: F811
    async with kept(kv, nats_url) as bed:
        time.sleep(3 * TTL)  # noqa: ASYNC251  the OMS's loop is busy for three lease lifetimes: nothing of it runs
        assert bed.held.valid(), "trust ran out although the keeper was free to renew"
        assert bed.keeper.renewals >= 5
        assert bed.lost == []
        rival = lease(kv, "b")
        assert not await rival.try_acquire()


async def test_a_renewal_refused_by_nats_reports_the_loss_on_the_owner_loop(
        kv: Any, nats_url: str) -> None:  # noqa: F811
    async with kept(kv, nats_url) as bed:
        await kv.delete(LEASE_KEY)  # someone else's hand on the key: the next update is refused
        await wait_until(lambda: bed.lost, 5, "the keeper to report the lost lease")
        assert "renewal failed" in bed.lost[0]
        assert not bed.held.valid()


async def test_a_lease_released_locally_is_not_renewed_back(kv: Any, nats_url: str) -> None:  # noqa: F811
    async with kept(kv, nats_url, renewals=2) as bed:
        bed.held.release_local()  # fenced
        renewals = bed.keeper.renewals
        await asyncio.sleep(3 * INTERVAL)  # the interval under test: three renewals would be due
        assert bed.keeper.renewals == renewals
        assert not bed.held.valid()
        assert bed.lost == []
