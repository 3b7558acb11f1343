"""The lease against a real nats-server: acquire, renew, expiry, never stealing, fencing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient

from tests.integration.test_oms_support import nats_server, wait_until
from trading_stack.lease import Lease, LeaseLost, lease_bucket

pytestmark = pytest.mark.integration

TTL = 1.0
MARGIN = 0.3


@pytest.fixture
async def nats_url(tmp_path: Path) -> AsyncIterator[str]:
    async with nats_server(tmp_path) as url:
        yield url


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NatsClient]:
    client = await nats.connect(nats_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def kv(nc: NatsClient) -> Any:
    return await lease_bucket(nc.jetstream(), "oms_lease", TTL)


def lease(kv: Any, name: str) -> Lease:
    return Lease(kv, name, ttl_s=TTL, safety_margin_s=MARGIN)


async def test_create_acquires_once_and_a_second_instance_is_refused(kv: Any) -> None:
    a, b = lease(kv, "a"), lease(kv, "b")
    assert await a.try_acquire()
    assert a.valid()
    assert not await b.try_acquire()
    assert not b.valid()
    holder = await b.current_holder()
    assert holder is not None
    assert (holder.instance, holder.epoch) == ("a", a.epoch)


async def test_renewal_keeps_the_key_alive_past_the_ttl(kv: Any) -> None:
    a, b = lease(kv, "a"), lease(kv, "b")
    assert await a.try_acquire()
    loop = asyncio.get_running_loop()
    end = loop.time() + 3 * TTL
    while loop.time() < end:
        await a.renew()
        assert not await b.try_acquire()
        await asyncio.sleep(TTL / 5)
    assert a.valid()


async def test_expiry_lets_a_second_instance_acquire_with_a_higher_epoch(kv: Any) -> None:
    a, b = lease(kv, "a"), lease(kv, "b")
    assert await a.try_acquire()
    loop = asyncio.get_running_loop()
    stopped_renewing = loop.time()
    await wait_until(b.try_acquire, 10 * TTL, "b to acquire after a's key expired")
    waited = loop.time() - stopped_renewing
    assert waited >= TTL * 0.9, "b acquired before a's key could have expired (stolen)"
    assert b.epoch > a.epoch
    # a's trust window ended before b could acquire: no overlap of trusted holders
    assert not a.valid()
    with pytest.raises(LeaseLost):
        await a.renew()


async def test_a_paused_renewer_stops_trusting_its_lease_before_it_expires(kv: Any) -> None:
    a = lease(kv, "a")
    assert await a.try_acquire()
    assert a.trust.trusted_until_ns is not None
    # "pause": no renewals; trust must end by itself, MARGIN before the key expires
    await wait_until(lambda: not a.valid(), 3 * TTL, "a to stop trusting its lease")
    assert await a.current_holder() is not None, "trust must end before the key expires"


async def test_released_lease_is_acquirable_at_once(kv: Any) -> None:
    a, b = lease(kv, "a"), lease(kv, "b")
    assert await a.try_acquire()
    await a.release()
    assert await b.try_acquire()
    assert b.epoch > a.epoch
