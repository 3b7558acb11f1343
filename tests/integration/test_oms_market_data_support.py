"""Support for the OMS market-data tests: a stand-in feed (aiohttp WebSocket speaking the agreed
protocol, /tmp/md16/protocol.md) whose prices follow the real venue's, with switchable faults, and a
bed of real parts (nats-server, Postgres, the mock venue, OMS processes) around it.

The stand-in is the test's instrument: it can stall, freeze, drift, skip sequence numbers or cross
its book at an exact moment, and it records what the OMS asked of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from mock_exchange.config import FeedConfig, SymbolConfig, VenueConfig
from tests.integration.test_deploy_support import DeployBed, deploy_bed, pg_cache, venue_config
from tests.integration.test_oms_support import Service, wait_until

pytestmark = pytest.mark.integration

SYMBOLS = ("BTC-USD", "ETH-USD")
LIMIT_MS = 400
SWITCH_BACK_MS = 1000
TRIP_MS = 300
FAST: dict[str, Any] = {  # the OMS's market-data limits, scaled down so a test takes seconds
    "symbols": list(SYMBOLS), "max_feed_age_ms": LIMIT_MS, "switch_back_after_ms": SWITCH_BACK_MS,
    "total_loss_trip_ms": TRIP_MS, "gap_recovery_ms": 300, "snapshot_retry_ms": 100,
    "publish_interval_ms": 200, "evaluate_interval_ms": 20, "reconnect_initial_s": 0.05,
    "reconnect_max_s": 0.2,
}


@dataclass
class StandInFeed:
    """One feed: every ``interval_s`` an update per symbol to every subscriber, at the venue's price."""

    name: str
    truth: Callable[[str], float]
    interval_s: float = 0.02
    heartbeat_s: float = 0.1
    stalled: bool = False
    frozen: bool = False
    crossed: bool = False
    drift_bp: float = 0.0
    skip: int = 0
    """updates to drop (their seq spent): a gap"""
    answers_snapshots: bool = True
    seq: int = 0
    snapshot_requests: list[list[str]] = field(default_factory=list)
    subscriptions: int = 0
    _clients: dict[web.WebSocketResponse, float] = field(default_factory=dict)
    _last: dict[str, tuple[float, float]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _task: asyncio.Task[None] | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/md"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/md", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._task = asyncio.create_task(self._publish())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for ws in list(self._clients):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def quote(self, symbol: str) -> tuple[float, float]:
        if self.frozen and symbol in self._last:
            return self._last[symbol]
        mid = self.truth(symbol) * (1 + self.drift_bp / 10_000)
        bid, ask = round(mid - 0.01, 2), round(mid + 0.01, 2)
        if self.crossed:
            bid = round(ask + 0.05, 2)
        self._last[symbol] = (bid, ask)
        return bid, ask

    def _frame(self, kind: str, symbol: str, seq: int) -> str:
        bid, ask = self.quote(symbol)
        return json.dumps({"type": kind, "feed": self.name, "seq": seq, "sent_ns": time.monotonic_ns(),
                           "symbol": symbol, "bid": bid, "ask": ask, "last": round((bid + ask) / 2, 2)})

    async def _send(self, ws: web.WebSocketResponse, text: str) -> None:
        with contextlib.suppress(Exception):
            await ws.send_str(text)
            self._clients[ws] = time.monotonic()

    async def _publish(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            if self.stalled:
                continue
            for symbol in SYMBOLS:
                self.seq += 1
                if self.skip > 0:
                    self.skip -= 1
                    continue
                frame = self._frame("update", symbol, self.seq)
                for ws in list(self._clients):
                    await self._send(ws, frame)
            now = time.monotonic()
            for ws, last in list(self._clients.items()):
                if now - last >= self.heartbeat_s:
                    await self._send(ws, json.dumps({"type": "heartbeat", "feed": self.name, "seq": self.seq,
                                                     "sent_ns": time.monotonic_ns()}))

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        try:
            async for message in ws:
                body = json.loads(message.data)
                symbols = list(body.get("symbols") or SYMBOLS)
                if body.get("op") == "subscribe":
                    self.subscriptions += 1
                    self._clients[ws] = time.monotonic()
                elif body.get("op") == "snapshot":
                    self.snapshot_requests.append(symbols)
                    if not self.answers_snapshots:
                        continue
                else:
                    await ws.send_str(json.dumps({"type": "error", "feed": self.name, "error": "unknown op"}))
                    continue
                if not self.stalled:
                    for symbol in symbols:
                        await self._send(ws, self._frame("snapshot", symbol, self.seq))
        finally:
            self._clients.pop(ws, None)
        return ws


@dataclass
class MdBed:
    """The deploy bed plus two stand-in feeds, A and B, priced off the bed's venue."""

    bed: DeployBed
    feeds: dict[str, StandInFeed]

    async def oms(self, name: str = "oms-blue", defects: tuple[str, ...] = (), **market_data: Any) -> Service:
        config = {"feeds": {feed.name: feed.url for feed in self.feeds.values()}, **FAST, **market_data}
        svc = await self.bed.oms(name, "active", market_data=config, defects=list(defects))
        await wait_until(lambda: self.selected(svc, "A"), 10, "feed A selected")
        return svc

    async def deep(self, svc: Service) -> dict[str, Any]:
        _, body = await self.bed.call(svc, "GET", "/health/deep")
        return dict(body["market_data"])

    async def selected(self, svc: Service, feed: str | None) -> bool:
        return (await self.deep(svc))["selected"] == feed

    async def order(self, svc: Service, **order: Any) -> tuple[int, Any]:
        body = {"symbol": "BTC-USD", "side": "buy", "qty": 1, "type": "market", "price": None, **order}
        return await self.bed.call(svc, "POST", "/orders", body)

    def feeds_events(self, instance: str = "oms-blue") -> list[dict[str, Any]]:
        return self.bed.messages("feeds", instance)

    def switches(self, instance: str = "oms-blue") -> list[tuple[str | None, str | None]]:
        return [(e["previous"], e["selected"]) for e in self.feeds_events(instance) if e["switch"]]

    def switch(self, previous: str | None, selected: str | None,
               instance: str = "oms-blue") -> dict[str, Any] | None:
        """The first ``oms.feeds`` event of that switch (an event the stream did not acknowledge in time
        is published again, later: look a switch up, do not count on positions)."""
        return next((e for e in self.feeds_events(instance)
                     if e["switch"] and (e["previous"], e["selected"]) == (previous, selected)), None)

    def pricing(self, instance: str = "oms-blue") -> list[dict[str, Any]]:
        return self.bed.messages("pricing", instance)

    def set_mid(self, symbol: str, mid: float) -> None:
        self.bed.venue.engine.prices[symbol].mid = mid


@dataclass
class VenueFeedsBed(MdBed):
    """The OMS on the real venue's own feeds A and B; feed faults through its admin API."""

    async def oms(self, name: str = "oms-blue", defects: tuple[str, ...] = (), **market_data: Any) -> Service:
        ports = self.bed.venue.feed_ports
        config = {"feeds": {feed: f"ws://127.0.0.1:{port}/md" for feed, port in ports.items()}, **FAST,
                  **market_data}
        svc = await self.bed.oms(name, "active", market_data=config, defects=list(defects))
        await wait_until(lambda: self.selected(svc, "A"), 10, "feed A selected")
        return svc

    async def fault(self, kind: str, **params: Any) -> int:
        """Arm a venue feed fault; its arm time on the venue's clock (the ledger's fault line)."""
        status, body = await self.bed.venue_api("PUT", f"/faults/{kind}", params)
        assert status == 200, body
        return await self._fault_t_ns(kind, "arm")

    async def heal(self, kind: str) -> int:
        status, body = await self.bed.venue_api("DELETE", f"/faults/{kind}")
        assert status == 204, body
        return await self._fault_t_ns(kind, "heal")

    async def _fault_t_ns(self, kind: str, action: str) -> int:
        _, ledger = await self.bed.venue_api("GET", "/ledger")
        return max(int(f["t_ns"]) for f in ledger["faults"] if f["fault"] == kind and f["action"] == action)

    def mid(self, symbol: str = "BTC-USD") -> float:
        return float(self.bed.venue.engine.prices[symbol].mid)


def venue_with_feeds(tmp: Path) -> VenueConfig:
    """The bed's venue, with feeds A and B and prices that move (1 bp a step: ~7 bp a second)."""
    return venue_config(tmp).model_copy(update={
        "feeds": (FeedConfig(name="A", heartbeat_s=0.1), FeedConfig(name="B", heartbeat_s=0.1)),
        "symbols": (SymbolConfig(symbol="BTC-USD", start_price=100.0, volatility_bps=1.0),
                    SymbolConfig(symbol="ETH-USD", start_price=10.0, volatility_bps=1.0)),
    })


@contextlib.asynccontextmanager
async def venue_feeds_bed(tmp: Path, cache: Path) -> AsyncIterator[VenueFeedsBed]:
    """The deploy bed (tests/integration/test_deploy_support.py) around a venue with feeds."""
    async with deploy_bed(tmp, cache, venue_at=venue_with_feeds(tmp), subjects=("oms.>",)) as bed:
        yield VenueFeedsBed(bed, {})


@contextlib.asynccontextmanager
async def md_bed(tmp: Path, cache: Path) -> AsyncIterator[MdBed]:
    async with deploy_bed(tmp, cache) as bed:
        prices = bed.venue.engine.prices
        feeds = {name: StandInFeed(name, lambda symbol: prices[symbol].mid) for name in ("A", "B")}
        for feed in feeds.values():
            await feed.start()
            bed.exit.push_async_callback(feed.stop)
        yield MdBed(bed, feeds)


@pytest.fixture
async def md(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[MdBed]:
    async with md_bed(tmp_path, pg_cache(tmp_path_factory)) as running:
        yield running


async def test_the_stand_in_feed_speaks_the_protocol(md: MdBed) -> None:
    feed = md.feeds["A"]
    async with aiohttp.ClientSession() as http, http.ws_connect(feed.url) as ws:
        await ws.send_str(json.dumps({"op": "subscribe", "symbols": ["BTC-USD"]}))
        first = json.loads((await ws.receive()).data)
        seen = (first["type"], first["symbol"], first["bid"], first["ask"])
        assert seen == ("snapshot", "BTC-USD", 99.99, 100.01)
        update = json.loads((await ws.receive()).data)
        assert update["type"] == "update"
        assert update["seq"] > first["seq"]
        await ws.send_str(json.dumps({"op": "nonsense"}))
        await wait_until(lambda: feed.subscriptions == 1, 2, "the subscription")
        while (frame := json.loads((await ws.receive()).data))["type"] != "error":
            pass
        assert frame["error"] == "unknown op"
