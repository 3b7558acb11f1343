"""Connections moving between the fast lane and the event loop keep every byte, in order.

A toxic-free connection is forwarded by the fast lane's thread; adding a toxic moves it to the
event loop, and removing the last toxic moves it back. These tests make the moves happen while
the proxy holds bytes (in a toxic, or for a slow reader), and while a stream ends.
"""

from __future__ import annotations

import asyncio
import random
import re
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest

from gameday.proxy import MetricsOptions, ToxiproxyServer
from gameday.proxy.connection import Connection, ConnectionState
from gameday.proxy.testing import ApiClient, Stream, UpstreamServer, echo_server, served, upstream_server

pytestmark = pytest.mark.integration

PROXY = "lane"
PAYLOAD_SIZE = 16 * 1024 * 1024  # more than the socket buffers on the way hold
DEADLINE = 10.0  # s
POLL = 0.005  # s
DOWNSTREAM_COUNTER = re.compile(r'toxiproxy_proxy_(\w+)_bytes_total\{direction="downstream"[^}]*\} (\d+)')


@dataclass
class Rig:
    server: ToxiproxyServer
    api: ApiClient
    upstream: UpstreamServer

    def connection(self) -> Connection:
        """The proxy's only open connection."""
        (connection,) = connections(self.server)
        return connection

    async def wait_until(self, condition: Callable[[Connection], bool]) -> Connection:
        async with asyncio.timeout(DEADLINE):
            while True:
                connection = self.connection()
                if condition(connection):
                    return connection
                await asyncio.sleep(POLL)

    async def wait_for(self, state: ConnectionState) -> Connection:
        return await self.wait_until(lambda connection: connection.state is state)


def connections(server: ToxiproxyServer) -> frozenset[Connection]:
    return server.registry.get(PROXY).relay.connections


async def wait_until_all(server: ToxiproxyServer, condition: Callable[[Connection], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while True:
            if all(condition(connection) for connection in connections(server)):
                return
            await asyncio.sleep(POLL)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with served(seed=3, metrics=MetricsOptions(proxy=True)) as (server, api), \
            upstream_server() as upstream:
        yield Rig(server, api, upstream)


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
async def connected(rig: Rig) -> AsyncIterator[tuple[Stream, Stream]]:
    """A client connected through the proxy, and the upstream's end of it."""
    port = await rig.api.create_proxy(PROXY, rig.upstream.port)
    client = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield client, await rig.upstream.accept()
    finally:
        client[1].close()


@asynccontextmanager
async def stalled(rig: Rig, seed: int) -> AsyncIterator[tuple[Stream, Stream, bytes]]:
    """A client that does not read yet, and an upstream that has written a payload to it."""
    payload = random.Random(seed).randbytes(PAYLOAD_SIZE)
    async with connected(rig) as (client, server):
        server[1].write(payload)
        await wait_until_held(rig.api)
        yield client, server, payload


def numbered(first: int, count: int) -> bytes:
    return b"".join(struct.pack(">I", seq) for seq in range(first, first + count))


def numbers(data: bytes) -> list[int]:
    return [seq for (seq,) in struct.iter_unpack(">I", data)]


async def read_exactly(stream: Stream, size: int) -> bytes:
    return await asyncio.wait_for(stream[0].readexactly(size), DEADLINE)


async def round_trip(stream: Stream) -> float:
    """Seconds for one byte to the echo upstream and back."""
    started = time.monotonic()
    stream[1].write(b"x")
    assert await read_exactly(stream, 1) == b"x"
    return time.monotonic() - started


# -- out of the lane -----------------------------------------------------------------------------
async def test_bytes_held_for_a_slow_reader_survive_adding_a_toxic(rig: Rig) -> None:
    async with stalled(rig, seed=7) as (client, _, payload):
        await asyncio.wait_for(rig.api.add_toxic(PROXY, "latency", attributes={"latency": 1}), 1)
        assert await read_exactly(client, PAYLOAD_SIZE) == payload


async def test_a_stream_that_ends_while_bytes_are_held_arrives_whole_then_ends(rig: Rig) -> None:
    async with stalled(rig, seed=8) as (client, server, payload):
        server[1].write_eof()
        assert await asyncio.wait_for(client[0].read(), DEADLINE) == payload


# -- back into the lane --------------------------------------------------------------------------
async def test_a_healed_connection_returns_to_the_lane_after_the_bytes_a_toxic_held(rig: Rig) -> None:
    async with connected(rig) as (client, server):
        await rig.wait_for(ConnectionState.LANE)
        await rig.api.add_toxic(PROXY, "latency", name="lag", attributes={"latency": 300})
        server[1].write(numbered(0, 4000))
        await wait_until_held(rig.api)
        await rig.api.remove_toxic(PROXY, "lag")
        await rig.wait_for(ConnectionState.LANE)
        server[1].write(numbered(4000, 4000))
        client[1].write(b"ping")
        assert await read_exactly(server, 4) == b"ping"
        assert numbers(await read_exactly(client, 4 * 8000)) == list(range(8000))


@asynccontextmanager
async def returning(rig: Rig, seed: int) -> AsyncIterator[tuple[Stream, Stream, bytes]]:
    """A connection healed (its only toxic removed) while its client is not reading: it waits
    in the loop for the client to take the backlog before it returns to the lane."""
    async with connected(rig) as (client, server):
        await rig.api.add_toxic(PROXY, "latency", name="lag", attributes={"latency": 1})
        payload = random.Random(seed).randbytes(PAYLOAD_SIZE)
        server[1].write(payload)
        await rig.wait_until(lambda connection: connection.buffered > 0)
        await rig.api.remove_toxic(PROXY, "lag")
        await rig.wait_for(ConnectionState.RETURNING)
        yield client, server, payload


async def test_a_returning_connection_waits_for_a_slow_reader_while_the_other_way_flows(rig: Rig) -> None:
    async with returning(rig, seed=9) as (client, server, payload):
        client[1].write(b"still flowing")
        assert await read_exactly(server, 13) == b"still flowing"
        assert rig.connection().state is ConnectionState.RETURNING
        assert await read_exactly(client, PAYLOAD_SIZE) == payload
        await rig.wait_for(ConnectionState.LANE)


async def test_a_toxic_added_while_returning_keeps_the_connection_and_applies(rig: Rig) -> None:
    async with returning(rig, seed=10) as (client, server, payload):
        await rig.api.add_toxic(PROXY, "latency", name="lag_again", attributes={"latency": 200})
        assert rig.connection().state is ConnectionState.LOOP
        assert await read_exactly(client, PAYLOAD_SIZE) == payload
        started = time.monotonic()
        server[1].write(b"late")
        assert await read_exactly(client, 4) == b"late"
        assert time.monotonic() - started >= 0.2


async def test_the_rolls_do_not_depend_on_a_connection_having_returned_to_the_lane() -> None:
    """Same seed, same toxics on the downstream: the rolls are the same whether the connections
    went back to the lane between two toxics or stayed in the loop (kept there by an upstream
    noop), so they do not depend on how fast a heal completes."""

    async def delayed_pattern(keep_in_loop: bool) -> list[bool]:
        async with served(seed=42) as (server, api), echo_server() as echo:
            port = await api.create_proxy(PROXY, echo.port)
            streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(16)]
            try:
                for stream in streams:
                    await round_trip(stream)
                if keep_in_loop:
                    await api.add_toxic(PROXY, "noop", stream="upstream")
                await api.add_toxic(PROXY, "latency", name="first", toxicity=0.5, attributes={"latency": 80})
                await api.remove_toxic(PROXY, "first")
                expected = ConnectionState.LOOP if keep_in_loop else ConnectionState.LANE
                await wait_until_all(server, lambda connection: connection.state is expected)
                await api.add_toxic(PROXY, "latency", name="second", toxicity=0.5, attributes={"latency": 80})
                return [await round_trip(stream) >= 0.08 for stream in streams]
            finally:
                for _, writer in streams:
                    writer.close()

    in_loop = await delayed_pattern(keep_in_loop=True)
    assert await delayed_pattern(keep_in_loop=False) == in_loop
    assert True in in_loop
    assert False in in_loop
