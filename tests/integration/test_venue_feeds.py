"""The venue's market-data feeds over real sockets (issue 16): two feeds of the same instruments with
their own seqs, snapshot then updates, snapshots on request, heartbeats, the ledger's ``md`` and
``price`` lines, hostile clients, and shutdown. :class:`FeedClient` is the test client the fault
tests use too."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mock_exchange.config import ExchangeConfig, FeedConfig, SymbolConfig, VenueConfig
from mock_exchange.exchange import Exchange
from mock_exchange.md import server
from mock_exchange.md.server import MAX_FRAME_BYTES
from mock_exchange.md.subscriber import REQUEST_BURST
from mock_exchange.venue import Venue
from tests.integration.venue_helpers import arm_fault, get_json, venue_config, wait_until

pytestmark = pytest.mark.integration

TIMEOUT_S = 5.0
HEARTBEAT_S = 0.1
SYMBOLS = ("BTC-USD", "ETH-USD")
STILL = (  # no random walk: what a feed shows can be compared with the venue's quote exactly
    SymbolConfig(symbol="BTC-USD", start_price=60_000.0, volatility_bps=0),
    SymbolConfig(symbol="ETH-USD", start_price=3_000.0, volatility_bps=0),
)
Frame = dict[str, Any]


def feed_venue_config(tmp_path: Path, *, a_rate: float = 50.0, b_rate: float = 50.0, **overrides: Any,
                      ) -> VenueConfig:
    feeds = (
        FeedConfig(name="A", updates_per_s=a_rate, heartbeat_s=HEARTBEAT_S),
        FeedConfig(name="B", updates_per_s=b_rate, heartbeat_s=HEARTBEAT_S),
    )
    return venue_config(tmp_path, feeds=feeds, **overrides)


@contextlib.asynccontextmanager
async def running(config: VenueConfig) -> AsyncIterator[Venue]:
    async with Venue(config) as venue:
        yield venue


class FeedClient:
    """A feed connection; every frame it reads is kept in ``frames`` in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.frames: list[Frame] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, port: int) -> AsyncIterator[FeedClient]:
        async with aiohttp.ClientSession() as http, http.ws_connect(f"ws://127.0.0.1:{port}/md") as ws:
            yield cls(ws)

    async def send(self, op: str, **fields: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, **fields}))

    async def next(self, timeout_s: float = TIMEOUT_S) -> Frame:
        message = await self.ws.receive(timeout=timeout_s)
        assert message.type is aiohttp.WSMsgType.TEXT, f"expected a frame, got {message}"
        frame: Frame = json.loads(message.data)
        self.frames.append(frame)
        return frame

    async def until(self, done: Callable[[Frame], bool], timeout_s: float = TIMEOUT_S) -> list[Frame]:
        """Frames up to and including the first for which ``done`` holds."""
        frames = []
        async with asyncio.timeout(timeout_s):
            while True:
                frames.append(await self.next(timeout_s))
                if done(frames[-1]):
                    return frames

    async def updates(self, count: int, timeout_s: float = TIMEOUT_S) -> list[Frame]:
        """The next ``count`` updates (other frames skipped)."""
        found: list[Frame] = []
        async with asyncio.timeout(timeout_s):
            while len(found) < count:
                frame = await self.next(timeout_s)
                if frame["type"] == "update":
                    found.append(frame)
        return found

    async def subscribe(self, symbols: tuple[str, ...] = ()) -> list[Frame]:
        """Subscribe; the snapshots that answer it (one per symbol)."""
        await self.send("subscribe", symbols=list(symbols))
        wanted = len(symbols or SYMBOLS)
        snapshots: list[Frame] = []
        async with asyncio.timeout(TIMEOUT_S):
            while len(snapshots) < wanted:
                frame = await self.next()
                if frame["type"] == "snapshot":
                    snapshots.append(frame)
        return snapshots


def consecutive(seqs: list[int]) -> bool:
    return seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_ready_line_names_each_feed_and_a_venue_without_feeds_is_unchanged(tmp_path: Path) -> None:
    config = ExchangeConfig(venues=(feed_venue_config(tmp_path),))
    async with Exchange(config) as exchange:
        venue = exchange.venues["venue"]
        pairs = dict(pair.split("=") for pair in exchange.ready_line().split()[1:])
        assert list(pairs) == ["fix", "admin", "feed_a", "feed_b"]
        assert (int(pairs["feed_a"]), int(pairs["feed_b"])) == (venue.feed_ports["A"], venue.feed_ports["B"])
        status, ledger = await get_json(venue.admin_port, "/ledger")
        assert status == 200
        assert "market_data" in ledger
    two = ExchangeConfig(venues=(feed_venue_config(tmp_path / "v1", name="v1"),
                                 feed_venue_config(tmp_path / "v2", name="v2")))
    async with Exchange(two) as exchange:
        names = [pair.split("=")[0] for pair in exchange.ready_line().split()[1:]]
        assert names == ["v1_fix", "v1_admin", "v1_feed_a", "v1_feed_b", "v2_fix", "v2_admin", "v2_feed_a",
                         "v2_feed_b"]
    plain = venue_config(tmp_path / "plain")
    async with Exchange(ExchangeConfig(venues=(plain,))) as exchange:
        assert "feed" not in exchange.ready_line()
        venue = exchange.venues["venue"]
        assert venue.feed_ports == {}
        status, ledger = await get_json(venue.admin_port, "/ledger")
        assert set(ledger) == {"orders", "fills", "sessions", "faults", "bans", "trading_status",
                               "report_fates", "now_ns"}


async def test_two_feeds_publish_the_venues_prices_each_with_its_own_seqs(tmp_path: Path) -> None:
    config = feed_venue_config(tmp_path, a_rate=20.0, b_rate=100.0, symbols=STILL)
    async with running(config) as venue, FeedClient.connect(venue.feed_ports["A"]) as a, \
            FeedClient.connect(venue.feed_ports["B"]) as b:
        await a.subscribe()
        await b.subscribe()
        from_a, from_b = await asyncio.gather(a.updates(40), b.updates(40))
        for frames, name in ((from_a, "A"), (from_b, "B")):
            assert {frame["feed"] for frame in frames} == {name}
            assert {frame["symbol"] for frame in frames} == set(SYMBOLS)
            assert consecutive([frame["seq"] for frame in frames])
            sent = [frame["sent_ns"] for frame in frames]
            assert sent == sorted(sent)
            for frame in frames:
                quote = venue.engine.prices[frame["symbol"]].quote
                assert (frame["bid"], frame["ask"]) == (quote.bid, quote.ask)
        rate_a = (from_a[-1]["seq"] - from_a[0]["seq"]) / (from_a[-1]["sent_ns"] - from_a[0]["sent_ns"])
        rate_b = (from_b[-1]["seq"] - from_b[0]["seq"]) / (from_b[-1]["sent_ns"] - from_b[0]["sent_ns"])
        assert rate_b > 3 * rate_a, "each feed on its own timing"
        # the venue's price moves (a price path): both feeds follow it
        await arm_fault(venue.admin_port, "price_path", symbol="BTC-USD", move_pct=1, over_s=0)
        moved = [await a.until(lambda f: f["symbol"] == "BTC-USD" and f["bid"] > 60_500),
                 await b.until(lambda f: f["symbol"] == "BTC-USD" and f["bid"] > 60_500)]
        assert moved[0][-1]["bid"] == moved[1][-1]["bid"] == venue.engine.prices["BTC-USD"].quote.bid


async def test_snapshot_then_updates_and_a_snapshot_on_request(tmp_path: Path) -> None:
    async with running(feed_venue_config(tmp_path)) as venue, FeedClient.connect(venue.feed_ports["A"]) as a:
        snapshots = await a.subscribe()
        assert a.frames[: len(snapshots)] == snapshots, "the snapshots come first"
        assert sorted(frame["symbol"] for frame in snapshots) == list(SYMBOLS)
        (seq,) = {frame["seq"] for frame in snapshots}
        (first,) = await a.updates(1)
        assert first["seq"] == seq + 1, "updates go on from the snapshot's seq"
        await a.updates(5)
        last_seen = a.frames[-1]["seq"]
        await a.send("snapshot", symbols=["ETH-USD"])
        (snapshot,) = [frame for frame in await a.until(lambda f: f["type"] == "snapshot")
                       if frame["type"] == "snapshot"]
        assert snapshot["symbol"] == "ETH-USD"
        assert snapshot["seq"] >= last_seen
        after = await a.updates(3)
        seq = snapshot["seq"]
        assert [frame["seq"] for frame in after] == [seq + 1, seq + 2, seq + 3], "updates go on from it"


async def test_a_subscription_to_some_symbols_gets_their_updates_only(tmp_path: Path) -> None:
    async with running(feed_venue_config(tmp_path)) as venue, FeedClient.connect(venue.feed_ports["B"]) as b:
        await b.subscribe(("ETH-USD",))
        frames = await b.updates(10)
        assert {frame["symbol"] for frame in frames} == {"ETH-USD"}
        await b.subscribe(("BTC-USD",))
        frames = await b.updates(10)
        assert {frame["symbol"] for frame in frames} == {"BTC-USD"}


async def test_a_quiet_connection_gets_heartbeats_with_the_feeds_seq(tmp_path: Path) -> None:
    async with running(feed_venue_config(tmp_path)) as venue, FeedClient.connect(venue.feed_ports["A"]) as a:
        beats = [await a.next() for _ in range(3)]
        assert {frame["type"] for frame in beats} == {"heartbeat"}
        assert [frame["seq"] for frame in beats] == sorted(frame["seq"] for frame in beats)
        assert beats[-1]["seq"] > 0, "the feed publishes whether anyone subscribed or not"
        gaps = [later["sent_ns"] - earlier["sent_ns"] for earlier, later in itertools.pairwise(beats)]
        assert all(gap >= HEARTBEAT_S * 0.9e9 for gap in gaps), gaps


BAD_FRAMES = [
    ("not json", "bad JSON"),
    ("[]", "a request is a JSON object with an op, not list"),
    ('{"op": "unsubscribe"}', "unknown op 'unsubscribe'"),
    ('{"op": "subscribe", "symbols": ["DOGE-USD"]}', "unknown symbol(s) 'DOGE-USD'"),
    ('{"op": "snapshot", "symbols": 5}', "symbols: expected a list"),
    ('{"op": "subscribe", "x": Infinity}', "Infinity is not a JSON number"),
    ("[" * 50_000, "nested too deep"),
]


async def test_bad_frames_get_an_error_and_the_connection_stays(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    async with running(feed_venue_config(tmp_path)) as venue, FeedClient.connect(venue.feed_ports["A"]) as a:
        with caplog.at_level(logging.WARNING, logger="mock_exchange"):
            for text, problem in BAD_FRAMES:
                await a.ws.send_str(text)
                errors = [frame for frame in await a.until(lambda f: f["type"] == "error")
                          if frame["type"] == "error"]
                assert errors[0]["feed"] == "A"
                assert problem in errors[0]["error"], errors
            await a.ws.send_bytes(b'{"op": "subscribe"}')
            frames = await a.until(lambda f: f["type"] == "error")
            (error,) = [frame for frame in frames if frame["type"] == "error"]
            assert error["error"] == "binary frames are not read: send JSON text"
            assert len(await a.subscribe()) == 2
        assert [record.getMessage() for record in caplog.records] == []


async def test_a_frame_over_64_kib_closes_the_connection_with_1009(tmp_path: Path) -> None:
    async with running(feed_venue_config(tmp_path)) as venue:
        async with FeedClient.connect(venue.feed_ports["A"]) as a:
            await a.ws.send_str(json.dumps({"op": "subscribe", "pad": "x" * MAX_FRAME_BYTES}))
            message = await a.ws.receive(timeout=TIMEOUT_S)
            while message.type is aiohttp.WSMsgType.TEXT:  # heartbeats before it
                message = await a.ws.receive(timeout=TIMEOUT_S)
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert message.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        async with FeedClient.connect(venue.feed_ports["A"]) as again:
            assert len(await again.subscribe()) == 2


async def test_a_request_flood_is_disconnected_with_1008(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    async with running(feed_venue_config(tmp_path)) as venue:
        async with FeedClient.connect(venue.feed_ports["A"]) as a:
            for _ in range(int(REQUEST_BURST) * 4):
                await a.ws.send_str('{"op": "snapshot"}')
            async with asyncio.timeout(TIMEOUT_S):
                message = await a.ws.receive()
                while message.type is aiohttp.WSMsgType.TEXT:
                    message = await a.ws.receive()
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert message.data == aiohttp.WSCloseCode.POLICY_VIOLATION
            assert message.extra == "request flood"
        assert any("floods requests" in record.getMessage() for record in caplog.records)
        async with FeedClient.connect(venue.feed_ports["A"]) as again:
            assert len(await again.subscribe()) == 2


async def test_a_client_that_stops_reading_is_dropped_at_its_queue_bound(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    feeds = (FeedConfig(name="A", updates_per_s=20_000, max_queue_bytes=64 * 1024),)
    async with running(venue_config(tmp_path, feeds=feeds)) as venue:
        feed = venue.market_data.feeds["A"]
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(sock, ("127.0.0.1", venue.feed_ports["A"]))
            await loop.sock_sendall(sock, _upgrade_request(venue.feed_ports["A"]))
            answer = await asyncio.wait_for(loop.sock_recv(sock, 4096), TIMEOUT_S)
            assert answer.startswith(b"HTTP/1.1 101")
            await loop.sock_sendall(sock, _masked_text(b'{"op": "subscribe"}'))
            await wait_until(lambda: any(s.symbols for s in feed.subscribers))
            subscriber = next(iter(feed.subscribers))
            await wait_until(lambda: not feed.subscribers, timeout_s=10.0)  # it never reads
            assert subscriber.gone
            assert subscriber.wire.buffered() <= 64 * 1024 + 256, "what waits for it stays bounded"
        finally:
            sock.close()
        assert any("reads too slowly" in record.getMessage() for record in caplog.records)
        async with FeedClient.connect(venue.feed_ports["A"]) as again:
            assert len(await again.subscribe()) == 2


def _upgrade_request(port: int) -> bytes:
    return (f"GET /md HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()


def _masked_text(payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + mask + masked


async def test_connections_beyond_the_limit_are_refused(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "MAX_CONNECTIONS", 2)
    async with running(feed_venue_config(tmp_path)) as venue, FeedClient.connect(venue.feed_ports["A"]), \
            FeedClient.connect(venue.feed_ports["A"]):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            async with FeedClient.connect(venue.feed_ports["A"]):
                pass
        assert refused.value.status == 503
        async with FeedClient.connect(venue.feed_ports["B"]) as b:
            assert len(await b.subscribe()) == 2, "each feed counts its own"


async def test_a_plain_http_request_is_told_to_upgrade(tmp_path: Path) -> None:
    async with running(feed_venue_config(tmp_path)) as venue:
        status, body = await get_json(venue.feed_ports["A"], "/md")
        assert status == 400
        assert "Upgrade" in body["error"]


async def test_the_venue_stopping_closes_feed_connections_with_1001(tmp_path: Path) -> None:
    venue = Venue(feed_venue_config(tmp_path))
    await venue.start()
    try:
        async with FeedClient.connect(venue.feed_ports["A"]) as a:
            await a.subscribe()
            stopping = asyncio.create_task(venue.stop())
            async with asyncio.timeout(TIMEOUT_S):
                message = await a.ws.receive()
                while message.type is aiohttp.WSMsgType.TEXT:
                    message = await a.ws.receive()
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, aiohttp.WSCloseCode.GOING_AWAY)
            await stopping
    finally:
        await venue.stop()


async def test_the_ledger_holds_what_each_feed_said_and_the_truth_every_100_ms(tmp_path: Path) -> None:
    config = feed_venue_config(tmp_path, a_rate=100.0, b_rate=30.0)
    started = time.monotonic_ns()
    async with running(config) as venue:
        ledger = venue.ledger

        def covered() -> bool:
            lines = {(line["kind"], line.get("feed"), line["symbol"]) for line in ledger.market_data}
            wanted: set[tuple[str, str | None, str]] = {("price", None, symbol) for symbol in SYMBOLS}
            wanted |= {("md", feed, symbol) for feed in "AB" for symbol in SYMBOLS}
            return wanted <= lines and len(ledger.market_data) > 40

        await wait_until(covered)
        status, body = await get_json(venue.admin_port, "/ledger")
        seq_a = venue.market_data.feeds["A"].seq
    elapsed_s = (time.monotonic_ns() - started) / 1e9
    assert status == 200
    records = body["market_data"]
    md = [line for line in records if line["kind"] == "md"]
    for feed in "AB":
        for symbol in SYMBOLS:
            lines = [line for line in md if line["feed"] == feed and line["symbol"] == symbol]
            assert len(lines) <= elapsed_s / 0.1 + 2, "at most a line per 100 ms"
            assert all(line["seq_first"] <= line["seq_last"] for line in lines)
            assert all(before["seq_last"] < after["seq_first"] for before, after in itertools.pairwise(lines))
            assert all(line["bid"] < line["ask"] for line in lines)
    a_lines = [line for line in md if line["feed"] == "A"]
    assert sum(line["updates"] for line in a_lines) == max(line["seq_last"] for line in a_lines) <= seq_a
    prices = [line for line in records if line["kind"] == "price"]
    assert {line["symbol"] for line in prices} == set(SYMBOLS)
    assert all(set(line) == {"kind", "t_ns", "symbol", "bid", "ask", "mid"} for line in prices)
    file_lines = [json.loads(line) for line in config.ledger_path.read_text().splitlines()]
    written = [line for line in file_lines if line["kind"] in ("md", "price")]
    assert written[: len(records)] == records, "the file holds the same lines, and the last round at stop"
    async with running(config) as restarted:
        assert list(restarted.ledger.market_data)[: len(written)] == written
