"""Connections moving between the fast lane and the event loop keep every byte, in order.

A toxic-free connection is forwarded by the fast lane's thread; adding a toxic moves it to the
event loop. These tests make the move happen while the proxy holds bytes a slow reader has not
taken yet, and while a stream ends.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from gameday.proxy.testing import ApiClient, Stream, UpstreamServer, served_api, upstream_server

pytestmark = pytest.mark.integration

PROXY = "lane"
PAYLOAD_SIZE = 16 * 1024 * 1024  # more than the socket buffers on the way hold
DEADLINE = 10.0  # s
POLL = 0.01  # s
DOWNSTREAM_COUNTER = re.compile(r'toxiproxy_proxy_(\w+)_bytes_total\{direction="downstream"[^}]*\} (\d+)')


@pytest.fixture
async def served() -> AsyncIterator[tuple[ApiClient, UpstreamServer]]:
    async with served_api(seed=3) as api, upstream_server() as upstream:
        yield api, upstream


async def held_downstream(api: ApiClient) -> int:
    """Bytes the proxy has read from the upstream and not yet written to the client."""
    async with api.session.get(api.url + "/metrics") as response:
        text = await response.text()
    counters = {kind: int(value) for kind, value in DOWNSTREAM_COUNTER.findall(text)}
    return counters["received"] - counters["sent"]


async def wait_until_held(api: ApiClient) -> None:
    async with asyncio.timeout(DEADLINE):
        while True:
            if await held_downstream(api) > 0:
                return
            await asyncio.sleep(POLL)


@asynccontextmanager
async def stalled(
    served: tuple[ApiClient, UpstreamServer], seed: int
) -> AsyncIterator[tuple[Stream, Stream, bytes]]:
    """A client that does not read yet, and an upstream that has written a payload to it."""
    api, upstream = served
    payload = random.Random(seed).randbytes(PAYLOAD_SIZE)
    port = await api.create_proxy(PROXY, upstream.port)
    client = await asyncio.open_connection("127.0.0.1", port)
    try:
        server = await upstream.accept()
        server[1].write(payload)
        await wait_until_held(api)
        yield client, server, payload
    finally:
        client[1].close()


async def test_bytes_held_for_a_slow_reader_survive_adding_a_toxic(
    served: tuple[ApiClient, UpstreamServer],
) -> None:
    async with stalled(served, seed=7) as (client, _, payload):
        await asyncio.wait_for(served[0].add_toxic(PROXY, "latency", attributes={"latency": 1}), 1)
        assert await asyncio.wait_for(client[0].readexactly(PAYLOAD_SIZE), DEADLINE) == payload


async def test_a_stream_that_ends_while_bytes_are_held_arrives_whole_then_ends(
    served: tuple[ApiClient, UpstreamServer],
) -> None:
    async with stalled(served, seed=8) as (client, server, payload):
        server[1].write_eof()
        assert await asyncio.wait_for(client[0].read(), DEADLINE) == payload
