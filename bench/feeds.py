"""The venue's market-data feeds (issue 16): updates a second each feed publishes and a subscriber
receives, with orders flowing over FIX.

Processes (2 cores, nothing pinned): the venue (``python -m mock_exchange --config ...``, logging
at WARNING) with feeds A and B of two symbols; one subscriber process per feed (a plain socket:
the WebSocket handshake, then every frame parsed as JSON, its ``seq`` checked); this process sends
``ORDERS_PER_S`` resting limit orders a second over one FIX session and counts their acks.

Figures per variant (the rate each feed is asked for) and feed, over ``MEASURE_S`` after
``WARMUP_S``: published = the feed's seqs per second of its own send times (``sent_ns``);
received = updates the subscriber read per second of its clock; lost = seqs it never saw;
latency = receive time - ``sent_ns`` (one monotonic clock on the host), p50 / p99; the venue's
CPU per second; orders acked per second; the load average before and after.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.machine import machine
from bench.venue_process import SENDER, AckCounter, VenueChild, logged_on, new_orders, venue_child
from mock_exchange.config import FeedConfig, SessionConfig, SymbolConfig, VenueConfig

HOST = "127.0.0.1"
SYMBOLS = (
    SymbolConfig(symbol="BTC-USD", start_price=60_000.0),
    SymbolConfig(symbol="ETH-USD", start_price=3_000.0),
)
VARIANTS = (20_000, 50_000)
"""updates a second asked of each feed (over both symbols)"""
ORDERS_PER_S = 300
WARMUP_S = 2.0
MEASURE_S = 10.0
GOAL = ">= 20000 updates/s per feed, published and received, orders flowing"


def venue_with_feeds(root: Path, per_feed: int) -> contextlib.AbstractContextManager[VenueChild]:
    feeds = tuple(FeedConfig(name=name, updates_per_s=per_feed / len(SYMBOLS), max_queue_bytes=64 << 20)
                  for name in ("A", "B"))
    config = VenueConfig(fix_port=0, admin_port=0, sessions=(SessionConfig(sender_comp_id=SENDER),),
                         symbols=SYMBOLS, fill_probability=0.0, feeds=feeds,
                         ledger_path=root / f"ledger-{time.monotonic_ns()}.jsonl")
    return venue_child(config, root)


# -- a subscriber (its own process) ------------------------------------------------------------


def _subscriber_child(port: int, start_at: float, stop_at: float, results: Any) -> None:
    """Subscribe to every symbol; from ``start_at`` to ``stop_at`` (monotonic) count, check, time."""
    sock = socket.create_connection((HOST, port))
    sock.sendall(f"GET /md HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += sock.recv(65536)
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"no upgrade: {head[:80]!r}")
    sock.sendall(_masked_text(b'{"op": "subscribe"}'))
    stats = _Reading()
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        now = time.monotonic()
        buffer = stats.feed(buffer + chunk, now, measuring=start_at <= now, now_ns=time.monotonic_ns())
        if now >= stop_at:
            break
    sock.close()
    results.put(stats.summary())


class _Reading:
    def __init__(self) -> None:
        self.updates = 0
        self.lost = 0
        self.last_seq: int | None = None
        self.first: tuple[float, int, int] | None = None  # receive time, seq, sent_ns
        self.last: tuple[float, int, int] | None = None
        self.latencies_us: list[float] = []

    def feed(self, data: bytes, now: float, *, measuring: bool, now_ns: int) -> bytes:
        """Take every whole frame of ``data``; the rest (a partial frame)."""
        offset, size = 0, len(data)
        while size - offset >= 2:
            length, header = data[offset + 1] & 0x7F, 2
            if length == 126:
                if size - offset < 4:
                    break
                length, header = int.from_bytes(data[offset + 2 : offset + 4], "big"), 4
            elif length == 127:
                if size - offset < 10:
                    break
                length, header = int.from_bytes(data[offset + 2 : offset + 10], "big"), 10
            end = offset + header + length
            if end > size:
                break
            if data[offset] == 0x81:
                self._frame(json.loads(data[offset + header : end]), now, measuring, now_ns)
            offset = end
        return data[offset:]

    def _frame(self, frame: dict[str, Any], now: float, measuring: bool, now_ns: int) -> None:
        if frame["type"] != "update":
            return
        seq = frame["seq"]
        if self.last_seq is not None and seq != self.last_seq + 1 and measuring:
            self.lost += max(seq - self.last_seq - 1, 0)
        self.last_seq = seq
        if not measuring:
            return
        self.updates += 1
        self.last = (now, seq, frame["sent_ns"])
        if self.first is None:
            self.first = self.last
        if self.updates % 10 == 0:
            self.latencies_us.append((now_ns - frame["sent_ns"]) / 1e3)

    def summary(self) -> dict[str, float]:
        if self.first is None or self.last is None:
            return {"published": 0.0, "received": 0.0, "lost": self.lost, "p50_us": 0.0, "p99_us": 0.0}
        latencies = sorted(self.latencies_us)
        return {
            "published": (self.last[1] - self.first[1]) / ((self.last[2] - self.first[2]) / 1e9),
            "received": (self.updates - 1) / (self.last[0] - self.first[0]),
            "lost": self.lost,
            "p50_us": latencies[len(latencies) // 2],
            "p99_us": latencies[int(len(latencies) * 0.99)],
        }


def _masked_text(payload: bytes) -> bytes:
    mask = b"\x01\x02\x03\x04"
    return bytes((0x81, 0x80 | len(payload))) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


# -- orders over FIX ---------------------------------------------------------------------------


def _order_flow(port: int, stop_at: float, run: int) -> tuple[int, float]:
    """Resting limit orders at ``ORDERS_PER_S`` until ``stop_at``; (acks, seconds)."""
    orders = new_orders(2, int(ORDERS_PER_S * (stop_at - time.monotonic() + 1)), f"f{run}")
    acks = AckCounter()
    with logged_on(port) as sock:
        stop = threading.Event()

        def read() -> None:
            sock.settimeout(0.5)
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    data = sock.recv(1 << 20)
                    if not data:
                        return
                    acks.feed(data)

        reader = threading.Thread(target=read)
        reader.start()
        started = next_send = time.monotonic()
        for order in orders:
            if next_send >= stop_at:
                break
            while (now := time.monotonic()) < next_send:
                time.sleep(next_send - now)
            sock.sendall(order)
            next_send += 1.0 / ORDERS_PER_S
        elapsed = time.monotonic() - started
        time.sleep(0.5)
        stop.set()
        reader.join()
    return acks.count, elapsed


# -- a run -------------------------------------------------------------------------------------


def feed_run(root: Path, per_feed: int, run: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with venue_with_feeds(root, per_feed) as venue:
        start_at = time.monotonic() + WARMUP_S + 1.0  # the children take about a second to start
        stop_at = start_at + MEASURE_S
        results = {name: context.Queue() for name in ("A", "B")}
        children = [
            context.Process(target=_subscriber_child,
                            args=(venue.ports[f"feed_{name.lower()}"], start_at, stop_at, results[name]))
            for name in ("A", "B")
        ]
        for child in children:
            child.start()
        while time.monotonic() < start_at:
            time.sleep(0.05)
        cpu_before, load_before = venue.cpu_seconds(), os.getloadavg()[0]
        acks, order_s = _order_flow(venue.ports["fix"], stop_at, run)
        cpu = venue.cpu_seconds() - cpu_before
        figures = {name: queue.get(timeout=60) for name, queue in results.items()}
        for child in children:
            child.join(timeout=10)
        load_after = os.getloadavg()[0]
    return {"feeds": figures, "orders_per_s": acks / order_s, "venue_cpu_per_s": cpu / MEASURE_S,
            "load": (load_before, load_after)}


async def main(repeat: int) -> list[dict[str, Any]]:
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-feeds-") as directory:
        for per_feed in VARIANTS:
            runs = [feed_run(Path(directory), per_feed, run) for run in range(repeat)]
            figures.append(_figure(per_feed, runs))
    return figures


def _figure(per_feed: int, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def median(values: list[float]) -> float:
        return round(statistics.median(values), 1)

    per_feed_figures = {}
    for name in ("A", "B"):
        feed_runs = [run["feeds"][name] for run in runs]
        per_feed_figures[name] = {
            "published_per_s": median([run["published"] for run in feed_runs]),
            "received_per_s": median([run["received"] for run in feed_runs]),
            "received_min": round(min(run["received"] for run in feed_runs)),
            "lost": sum(run["lost"] for run in feed_runs),
            "latency_p50_us": median([run["p50_us"] for run in feed_runs]),
            "latency_p99_us": median([run["p99_us"] for run in feed_runs]),
        }
    return {
        "figure": f"market data: {per_feed:,} updates/s asked of each of 2 feeds, "
                  f"{ORDERS_PER_S} orders/s over FIX",
        "feeds": per_feed_figures,
        "orders_acked_per_s": median([run["orders_per_s"] for run in runs]),
        "venue_cpu_per_s": round(statistics.median(run["venue_cpu_per_s"] for run in runs), 2),
        "load": [[round(value, 2) for value in run["load"]] for run in runs],
        "runs": len(runs),
        "measure_s": MEASURE_S,
        "goal": GOAL,
        **machine(),
    }
