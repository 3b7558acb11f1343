"""Bytes through the proxy: integrity, ordering and each toxic's timing, on loopback.

Timings use ``time.monotonic``. Lower bounds are exact (a toxic never releases early); upper
bounds leave ~10 ms for a loaded 2-core machine.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import struct
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from gameday.proxy import MetricsOptions
from gameday.proxy.testing import ApiClient, EchoServer, Stream, echo_server, free_port, served_api

pytestmark = pytest.mark.integration


class Harness(ApiClient):
    def __init__(self, api: ApiClient, echo: EchoServer) -> None:
        super().__init__(api.url, api.session)
        self.echo = echo
        self.writers: list[asyncio.StreamWriter] = []

    async def connect(self, port: int) -> Stream:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self.writers.append(writer)
        return reader, writer

    def close_streams(self) -> None:
        for writer in self.writers:
            writer.close()

    async def proxy(self, name: str = "echo", upstream_port: int | None = None) -> int:
        return await self.create_proxy(name, upstream_port or self.echo.port)

    async def toxic(self, type_name: str, proxy: str = "echo", **fields: Any) -> Any:
        return await self.add_toxic(proxy, type_name, **fields)

    async def remove(self, toxic: str, proxy: str = "echo") -> None:
        await self.remove_toxic(proxy, toxic)


@asynccontextmanager
async def serve_harness(seed: int) -> AsyncIterator[Harness]:
    async with served_api(seed, metrics=MetricsOptions(proxy=True)) as api, echo_server() as echo:
        harness = Harness(api, echo)
        try:
            yield harness
        finally:
            harness.close_streams()


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with serve_harness(seed=11) as harness:
        yield harness


async def round_trip_ms(stream: Stream, payload: bytes = b"x") -> float:
    reader, writer = stream
    start = time.monotonic()
    writer.write(payload)
    assert await reader.readexactly(len(payload)) == payload
    return (time.monotonic() - start) * 1000


async def median_rtt_ms(stream: Stream, samples: int) -> float:
    return statistics.median([await round_trip_ms(stream) for _ in range(samples)])


async def read_until_closed(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    """All bytes until EOF and the monotonic time EOF was seen."""
    data = await asyncio.wait_for(reader.read(), timeout=5)
    return data, time.monotonic()


# -- integrity and ordering ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "toxics",
    [
        [],
        [("noop", {})],
        [("latency", {"latency": 5, "jitter": 3}), ("latency", {"latency": 5, "jitter": 3}, "upstream")],
        [("slicer", {"average_size": 1000, "size_variation": 300, "delay": 10})],
        [("bandwidth", {"rate": 10_000})],
    ],
    ids=["plain", "noop", "latency", "slicer", "bandwidth"],
)
async def test_64k_message_is_intact(harness: Harness, toxics: list[tuple[Any, ...]]) -> None:
    port = await harness.proxy()
    for index, (type_name, attributes, *stream) in enumerate(toxics):
        await harness.toxic(
            type_name, name=f"t{index}", attributes=attributes, stream=(stream or ["downstream"])[0]
        )
    message = random.Random(5).randbytes(64 * 1024)
    reader, writer = await harness.connect(port)
    writer.write(message)
    assert await asyncio.wait_for(reader.readexactly(len(message)), timeout=10) == message
    writer.close()


async def test_order_kept_while_latency_is_added_and_removed(harness: Harness) -> None:
    port = await harness.proxy()
    reader, writer = await harness.connect(port)
    count = 3000

    async def send() -> None:
        for seq in range(count):
            writer.write(struct.pack(">I", seq))
            if seq % 10 == 0:
                await asyncio.sleep(0.0005)  # paces the traffic across the toggles

    async def toggle() -> None:
        for round_no in range(25):
            stream = "downstream" if round_no % 2 else "upstream"
            await harness.toxic(
                "latency", name="lag", stream=stream, attributes={"latency": 20, "jitter": 10}
            )
            await asyncio.sleep(0.01)
            await harness.remove("lag")

    async def receive() -> list[int]:
        data = await reader.readexactly(4 * count)
        return [seq for (seq,) in struct.iter_unpack(">I", data)]

    received, *_ = await asyncio.wait_for(asyncio.gather(receive(), send(), toggle()), timeout=30)
    assert received == list(range(count))


async def test_removing_latency_releases_held_bytes(harness: Harness) -> None:
    port = await harness.proxy()
    stream = await harness.connect(port)
    await round_trip_ms(stream)
    await harness.toxic("latency", attributes={"latency": 5000})
    reader, writer = stream
    payload = bytes(range(256)) * 40
    start = time.monotonic()
    writer.write(payload)
    await harness.remove("latency_downstream")
    assert await asyncio.wait_for(reader.readexactly(len(payload)), timeout=2) == payload
    assert time.monotonic() - start < 1


# -- latency -------------------------------------------------------------------------------------
async def test_latency_downstream_is_accurate(harness: Harness) -> None:
    port = await harness.proxy()
    stream = await harness.connect(port)
    baseline = await median_rtt_ms(stream, 50)
    await harness.toxic("latency", attributes={"latency": 100})
    samples = [await round_trip_ms(stream) for _ in range(7)]
    assert min(samples) >= 100
    assert statistics.median(samples) <= 100 + baseline + 10, samples


async def test_latencies_stack_across_streams(harness: Harness) -> None:
    port = await harness.proxy()
    stream = await harness.connect(port)
    await harness.toxic("latency", name="up", stream="upstream", attributes={"latency": 50})
    await harness.toxic("latency", name="down1", attributes={"latency": 30})
    await harness.toxic("latency", name="down2", attributes={"latency": 20})
    samples = [await round_trip_ms(stream) for _ in range(5)]
    assert min(samples) >= 100
    assert statistics.median(samples) <= 112, samples


async def test_latency_does_not_limit_throughput(harness: Harness) -> None:
    port = await harness.proxy()
    reader, writer = await harness.connect(port)
    await harness.toxic("latency", attributes={"latency": 100})
    block = b"z" * 12_000
    start = time.monotonic()
    for _ in range(100):
        writer.write(block)
    await asyncio.wait_for(reader.readexactly(len(block) * 100), timeout=5)
    elapsed_ms = (time.monotonic() - start) * 1000
    assert 100 <= elapsed_ms <= 150


async def test_jitter_stays_within_bounds(harness: Harness) -> None:
    port = await harness.proxy()
    stream = await harness.connect(port)
    await harness.toxic("latency", attributes={"latency": 60, "jitter": 20})
    samples = [await round_trip_ms(stream) for _ in range(12)]
    assert min(samples) >= 40
    assert max(samples) <= 80 + 10
    assert max(samples) - min(samples) > 5  # jitter actually varies the delay


async def test_toxicity_zero_never_applies(harness: Harness) -> None:
    port = await harness.proxy()
    stream = await harness.connect(port)
    await harness.toxic("latency", toxicity=0, attributes={"latency": 300})
    assert max([await round_trip_ms(stream) for _ in range(5)]) < 100


async def test_same_seed_gives_same_rolls() -> None:
    async def delayed_pattern() -> list[bool]:
        async with serve_harness(seed=42) as harness:
            port = await harness.proxy()
            await harness.toxic("latency", toxicity=0.5, attributes={"latency": 80})
            streams = [await harness.connect(port) for _ in range(16)]
            rtts = await asyncio.gather(*(round_trip_ms(stream) for stream in streams))
            return [rtt >= 80 for rtt in rtts]

    first, second = await delayed_pattern(), await delayed_pattern()
    assert first == second
    assert True in first
    assert False in first


# -- timeout -------------------------------------------------------------------------------------
async def test_timeout_drops_data_and_closes_after_silence(harness: Harness) -> None:
    port = await harness.proxy()
    reader, writer = await harness.connect(port)
    await round_trip_ms((reader, writer))
    await harness.toxic("timeout", attributes={"timeout": 100})
    start = time.monotonic()
    writer.write(b"ping")
    data, closed_at = await read_until_closed(reader)
    assert data == b""
    assert 100 <= (closed_at - start) * 1000 <= 125


async def test_timeout_zero_holds_until_removed(harness: Harness) -> None:
    port = await harness.proxy()
    reader, writer = await harness.connect(port)
    await round_trip_ms((reader, writer))
    await harness.toxic("timeout", stream="upstream", attributes={"timeout": 0})
    writer.write(b"ping")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), timeout=0.3)
    await harness.remove("timeout_upstream")
    data, _ = await read_until_closed(reader)
    assert data == b""


# -- down / up -----------------------------------------------------------------------------------
async def test_disable_closes_connections_refuses_new_and_keeps_toxics(harness: Harness) -> None:
    port = await harness.proxy()
    reader, writer = await harness.connect(port)
    await round_trip_ms((reader, writer))
    await harness.toxic("latency", attributes={"latency": 50})
    body = await harness.call("POST", "/proxies/echo", {"enabled": False})
    assert body["enabled"] is False
    data, _ = await read_until_closed(reader)
    assert data == b""
    with pytest.raises(ConnectionRefusedError):
        await harness.connect(port)
    assert [toxic["name"] for toxic in await harness.call("GET", "/proxies/echo/toxics")] == [
        "latency_downstream"
    ]
    await harness.call("POST", "/proxies/echo", {"enabled": True})
    assert await round_trip_ms(await harness.connect(port)) >= 50


async def test_unreachable_upstream_closes_client_quickly(harness: Harness) -> None:
    port = await harness.proxy(upstream_port=free_port())
    reader, _ = await harness.connect(port)
    start = time.monotonic()
    data, closed_at = await read_until_closed(reader)
    assert data == b""
    assert closed_at - start < 0.5


# -- the other toxics ----------------------------------------------------------------------------
async def test_reset_peer_resets_the_client(harness: Harness) -> None:
    port = await harness.proxy()
    reader, writer = await harness.connect(port)
    await harness.toxic("reset_peer", attributes={"timeout": 50})
    start = time.monotonic()
    writer.write(b"ping")
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(), timeout=5)
    assert time.monotonic() - start >= 0.05


async def test_limit_data_cuts_the_stream(harness: Harness) -> None:
    port = await harness.proxy()
    reader, writer = await harness.connect(port)
    await harness.toxic("limit_data", attributes={"bytes": 10})
    writer.write(b"0123456789abcdefghij")
    data, _ = await read_until_closed(reader)
    assert data == b"0123456789"


@pytest.mark.parametrize(("delay_ms", "low", "high"), [(0, 0, 60), (200, 200, 260)])
async def test_slow_close_delays_the_close(harness: Harness, delay_ms: int, low: float, high: float) -> None:
    port = await harness.proxy()
    reader, writer = await harness.connect(port)
    await round_trip_ms((reader, writer))
    await harness.toxic("slow_close", stream="upstream", attributes={"delay": delay_ms})
    start = time.monotonic()
    writer.write_eof()
    data, closed_at = await read_until_closed(reader)
    assert data == b""
    assert low <= (closed_at - start) * 1000 <= high


async def test_bandwidth_limits_the_rate(harness: Harness) -> None:
    port = await harness.proxy()
    reader, writer = await harness.connect(port)
    await harness.toxic("bandwidth", attributes={"rate": 100})  # 100 KB/s
    start = time.monotonic()
    writer.write(b"b" * 20_000)
    await asyncio.wait_for(reader.readexactly(20_000), timeout=5)
    assert 190 <= (time.monotonic() - start) * 1000 <= 260


async def test_metrics_count_bytes(harness: Harness) -> None:
    port = await harness.proxy()
    await round_trip_ms(await harness.connect(port), b"12345")
    async with harness.session.get(harness.url + "/metrics") as response:
        text = await response.text()
    lines = [line for line in text.splitlines() if line.startswith("toxiproxy_proxy_sent_bytes_total")]
    assert len(lines) == 2
    assert all(line.endswith(" 5") for line in lines)
