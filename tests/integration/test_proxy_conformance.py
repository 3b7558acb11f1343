"""Conformance with Toxiproxy's own toxic and link tests (toxics/*_test.go, link_test.go).

Over real loopback sockets: the test is the client and, through :func:`upstream_server`, the
upstream server too, so it sees when each side reads. Tolerances are Toxiproxy's: ±10 ms per
direction, ±20 ms for a round trip. As in Toxiproxy's tests, toxics are mostly added to a
connection that is already open.
"""

from __future__ import annotations

import asyncio
import random
import socket
import statistics
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from gameday.proxy.testing import ApiClient, Stream, UpstreamServer, served_api, upstream_server

pytestmark = pytest.mark.integration

PROXY = "test"
TOLERANCE_MS = 10
READ_TIMEOUT = 5.0  # s; bounds every read so a broken proxy fails instead of hanging
MESSAGE = b"hello world " + b"a" * 32 * 1024 + b"\n"


@dataclass
class Ends:
    """Both ends of one proxied connection."""

    client: Stream
    server: Stream


class Rig:
    def __init__(self, api: ApiClient, upstream: UpstreamServer, port: int) -> None:
        self.api = api
        self.upstream = upstream
        self.port = port
        self._writers: list[asyncio.StreamWriter] = []

    async def connect(self) -> Ends:
        client = await asyncio.open_connection("127.0.0.1", self.port)
        self._writers.append(client[1])
        return Ends(client, await self.upstream.accept())

    async def add(self, type_name: str, **fields: object) -> None:
        await self.api.add_toxic(PROXY, type_name, **fields)

    def close(self) -> None:
        for writer in self._writers:
            writer.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with served_api(seed=5) as api, upstream_server() as upstream:
        rig = Rig(api, upstream, await api.create_proxy(PROXY, upstream.port))
        try:
            yield rig
        finally:
            rig.close()


def since_ms(start: float) -> float:
    return (time.monotonic() - start) * 1000


async def read_exactly(stream: Stream, size: int) -> bytes:
    return await asyncio.wait_for(stream[0].readexactly(size), READ_TIMEOUT)


async def read_to_eof(stream: Stream) -> bytes:
    return await asyncio.wait_for(stream[0].read(), READ_TIMEOUT)


async def exchange(ends: Ends) -> None:
    """One message each way: the connection is established end to end."""
    for source, dest in ((ends.client, ends.server), (ends.server, ends.client)):
        source[1].write(b"foobar")
        assert await read_exactly(dest, 6) == b"foobar"


# -- latency (latency_test.go) -------------------------------------------------------------------
async def latency_round(ends: Ends) -> tuple[float, float, float]:
    """MESSAGE to the server and back: ms until the server read it, then until the client did."""
    start = time.monotonic()
    ends.client[1].write(MESSAGE)
    assert await read_exactly(ends.server, len(MESSAGE)) == MESSAGE
    server_read = since_ms(start)
    ends.server[1].write(MESSAGE)
    assert await read_exactly(ends.client, len(MESSAGE)) == MESSAGE
    round_trip = since_ms(start)
    return server_read, round_trip - server_read, round_trip


@pytest.mark.parametrize(("up_ms", "down_ms"), [(100, 0), (0, 100), (100, 100), (1000, 100), (100, 1000)])
async def test_latency_each_way(rig: Rig, up_ms: int, down_ms: int) -> None:
    ends = await rig.connect()
    for name, stream, latency in (("latency_up", "upstream", up_ms), ("latency_down", "downstream", down_ms)):
        if latency:
            await rig.add("latency", name=name, stream=stream, attributes={"latency": latency})
    rounds = [await latency_round(ends) for _ in range(5)]
    # medians: one round delayed by a busy machine must not decide, every round still counts
    up, down, round_trip = (statistics.median(values) for values in zip(*rounds, strict=True))
    assert abs(up - up_ms) <= TOLERANCE_MS, rounds
    assert abs(down - down_ms) <= TOLERANCE_MS, rounds
    assert abs(round_trip - up_ms - down_ms) <= 2 * TOLERANCE_MS, rounds
    assert min(r[0] for r in rounds) >= up_ms - TOLERANCE_MS  # never early: every chunk is delayed


async def test_two_stacked_latencies_add_up(rig: Rig) -> None:
    ends = await rig.connect()
    for index in range(2):
        await rig.add("latency", name=f"latency_{index}", stream="upstream", attributes={"latency": 500})
    start = time.monotonic()
    ends.client[1].write(MESSAGE)
    assert await read_exactly(ends.server, len(MESSAGE)) == MESSAGE
    assert abs(since_ms(start) - 1000) <= TOLERANCE_MS


# -- bandwidth (bandwidth_test.go) ---------------------------------------------------------------
async def test_bandwidth_sends_480000_bytes_at_1000_kb_per_s_in_480_ms(rig: Rig) -> None:
    ends = await rig.connect()
    await rig.add("bandwidth", stream="upstream", attributes={"rate": 1000})
    payload = b"hello world " * 40_000
    start = time.monotonic()
    ends.client[1].write(payload)
    assert await read_exactly(ends.server, len(payload)) == payload
    assert abs(since_ms(start) - 480) <= TOLERANCE_MS


# -- no data dropped (link_test.go TestNoDataDropped) -------------------------------------------
@pytest.mark.parametrize("stream", ["upstream", "downstream"])
async def test_65535_sequence_numbers_in_order_while_a_1000ms_latency_toggles(rig: Rig, stream: str) -> None:
    ends = await rig.connect()
    source, dest = (ends.client, ends.server) if stream == "upstream" else (ends.server, ends.client)
    count, batch = 65_535, 256
    arrived = asyncio.Event()
    toggles_while_flowing = 0

    async def write() -> None:
        for first in range(0, count, batch):
            numbers = range(first, min(first + batch, count))
            source[1].write(b"".join(struct.pack(">H", seq) for seq in numbers))
            await source[1].drain()
            await asyncio.sleep(0.001)  # pacing, so the toggles land inside the stream
        source[1].write_eof()

    async def toggle() -> None:
        nonlocal toggles_while_flowing
        while not arrived.is_set():
            await rig.add("latency", name="lag", stream=stream, attributes={"latency": 1000})
            await rig.api.remove_toxic(PROXY, "lag")
            toggles_while_flowing += not arrived.is_set()

    async def read() -> bytes:
        data = await read_exactly(dest, 2 * count)
        arrived.set()
        return data

    data, *_ = await asyncio.wait_for(asyncio.gather(read(), write(), toggle()), 30)
    assert [seq for (seq,) in struct.iter_unpack(">H", data)] == list(range(count))
    assert await read_to_eof(dest) == b""
    assert toggles_while_flowing >= 10


# -- timeout (timeout_test.go) -------------------------------------------------------------------
async def test_removing_a_timeout_toxic_closes_both_sides_within_1s(rig: Rig) -> None:
    ends = await rig.connect()
    await exchange(ends)
    await rig.add("timeout", name="to_delete", stream="upstream", attributes={"timeout": 0})
    await rig.api.remove_toxic(PROXY, "to_delete")
    async with asyncio.timeout(1):
        assert await ends.client[0].read() == b""
        assert await ends.server[0].read() == b""


# -- limit_data (limit_data_test.go) -------------------------------------------------------------
@pytest.mark.parametrize(
    ("limit", "writes"),
    [(100, [50, 60]), (100, [100]), (100, [150]), (100, [25, 25, 25, 25]), (100, [90, 20]), (0, [100])],
    ids=["under-then-over", "exact", "over", "four-quarters", "second-overflows", "zero"],
)
async def test_limit_data_cuts_at_the_limit_and_closes(rig: Rig, limit: int, writes: list[int]) -> None:
    ends = await rig.connect()
    await rig.add("limit_data", stream="upstream", attributes={"bytes": limit})
    payload = random.Random(limit + len(writes)).randbytes(sum(writes))
    offset = 0
    for size in writes:
        ends.client[1].write(payload[offset : offset + size])
        await ends.client[1].drain()
        offset += size
    assert await read_to_eof(ends.server) == payload[:limit]


async def test_limit_data_counter_survives_an_update(rig: Rig) -> None:
    ends = await rig.connect()
    await rig.add("limit_data", stream="upstream", attributes={"bytes": 100})
    payload = random.Random(1).randbytes(110)
    ends.client[1].write(payload[:90])
    assert await read_exactly(ends.server, 90) == payload[:90]
    await rig.api.update_toxic(PROXY, "limit_data_upstream", attributes={"bytes": 100})
    ends.client[1].write(payload[90:])
    assert await read_to_eof(ends.server) == payload[90:100]


# -- reset_peer (reset_peer_test.go) -------------------------------------------------------------
@pytest.mark.parametrize(("stream", "timeout_ms"), [("upstream", 0), ("upstream", 100), ("downstream", 100)])
async def test_reset_peer_gives_the_client_econnreset(rig: Rig, stream: str, timeout_ms: int) -> None:
    await rig.add("reset_peer", stream=stream, attributes={"timeout": timeout_ms})
    start = time.monotonic()
    ends = await rig.connect()

    async def serve_one_line() -> None:
        try:
            line = await asyncio.wait_for(ends.server[0].readline(), READ_TIMEOUT)
            ends.server[1].write(line)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the upstream side of an upstream reset

    serving = asyncio.create_task(serve_one_line())
    ends.client[1].write(b"reset toxic payload\n")
    with pytest.raises(ConnectionResetError):
        await read_to_eof(ends.client)
    assert since_ms(start) >= timeout_ms
    await serving


# -- slicer (slicer_test.go) ---------------------------------------------------------------------
async def test_slicer_delivers_about_one_read_per_slice(rig: Rig) -> None:
    await rig.add("slicer", attributes={"average_size": 1024, "size_variation": 512, "delay": 2000})
    loop = asyncio.get_running_loop()
    with socket.socket() as client:
        client.setblocking(False)
        await loop.sock_connect(client, ("127.0.0.1", rig.port))
        _, server_writer = await rig.upstream.accept()
        payload = b"hello world " * 4000
        server_writer.write(payload)
        received = bytearray()
        reads = 0
        async with asyncio.timeout(READ_TIMEOUT):
            while len(received) < len(payload):
                received += await loop.sock_recv(client, 65536)
                reads += 1
    assert received == payload
    slices = len(payload) // 1024
    assert slices // 2 <= reads <= slices // 2 + slices
