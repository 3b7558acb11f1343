"""The venue (issue 3): NewOrderSingle -> ack throughput and latency over FIX, and the ledger.

Processes (2 cores, nothing pinned): the venue is its own process (``python -m mock_exchange
--config ...``, logging at WARNING); the FIX client is this process, blocking sockets on
loopback, messages pre-encoded with the venue's codec before the clock starts.

Figures:

1. ``venue-throughput``: ``THROUGHPUT_ORDERS`` limit orders (resting, never marketable) over
   one session, at most ``WINDOW`` unacknowledged (a sender and a receiver thread); orders/s
   from the first send to the last ack. Beside it, in this process and without sockets: the
   bare codec loop (parse the same NewOrderSingle bytes + encode one ExecutionReport each),
   as the venue runs it (the layout learned, one regex match per message; the report from its
   template) and with the general parser (field by field); and the whole order-entry path
   (session rules, order entry, engine, ledger, encode).
2. ``venue-latency``: one order every 1 ms (1,000 orders/s) for ``LATENCY_ORDERS`` orders; ack
   latency = send to ack received, p50/p99/max. On 2 vCPUs it depends on where the scheduler
   puts the two processes: on one core (a local wake-up) or on two (the venue's core wakes
   from idle for every order); ``bench.venue_compare`` measures the floor beside it.
3. ``venue-ledger``: 1,000,000 orders recorded through ``Ledger.record_order`` in a fresh
   process (time, peak RSS), then the same file replayed as a restarted venue would.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.machine import machine
from mock_exchange.book import MatchingEngine
from mock_exchange.cli import tune_garbage_collector
from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.executions import Execution
from mock_exchange.fix.codec import FixStreamParser, encode
from mock_exchange.fix.connection import AcceptorConnection
from mock_exchange.fix.fields import execution_report_body, status_report_fields
from mock_exchange.fix.session import FixSession, SessionRegistry, utc_timestamps
from mock_exchange.fix.shapes import MessageShapes
from mock_exchange.ledger import Ledger
from mock_exchange.model import ExecType, Order, OrdType, Side, TimeInForce
from mock_exchange.order_entry import FixOrderEntry, OrderEntryListener

HOST = "127.0.0.1"
SENDER = "BENCH"
THROUGHPUT_ORDERS = 50_000
WINDOW = 2_000
LATENCY_ORDERS = 3_000
LATENCY_INTERVAL_S = 0.001
LEDGER_ORDERS = 1_000_000
ACK = b"\x01150=0\x01"
READY_TIMEOUT_S = 20.0


# -- the venue process -------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueChild:
    pid: int
    ports: dict[str, int]
    """the ports of the venue's READY line: ``fix``, ``admin``, a feed's, ..."""

    @property
    def port(self) -> int:
        return self.ports["fix"]

    def cpu_seconds(self) -> float:
        """User + system CPU time the venue process has used so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def venue_child(config: VenueConfig, root: Path, source: Path | None = None) -> Iterator[VenueChild]:
    """A venue child process run with ``config``; stopped (SIGTERM, then kill) after.

    ``source``: a directory holding another ``mock_exchange`` to run instead of this one.
    """
    config_path = root / "venue.json"
    # only what differs from the defaults, so an older venue's config model reads it too
    config_path.write_text(config.model_dump_json(exclude_defaults=True), encoding="utf-8")
    command = [sys.executable, "-m", "mock_exchange", "--config", str(config_path), "--log-level", "WARNING"]
    environment = None if source is None else {**os.environ, "PYTHONPATH": str(source)}
    # ``-m`` puts the working directory first on sys.path, before PYTHONPATH: run from ``source``
    # so its mock_exchange is the one imported, not this checkout's
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment, cwd=source)
    try:
        yield VenueChild(process.pid, _ready_ports(process))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def venue_process(root: Path, source: Path | None = None) -> contextlib.AbstractContextManager[VenueChild]:
    """A venue child that fills nothing (its FIX port and pid), as the order-entry benches need."""
    config = _bench_config(root / f"ledger-{time.monotonic_ns()}.jsonl").model_copy(
        update={"fill_probability": 0.0}
    )
    return venue_child(config, root, source)


def _ready_ports(process: subprocess.Popen[str]) -> dict[str, int]:
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"venue exited with {process.wait()} before READY")
        if line.startswith("READY"):
            return {key: int(value) for key, value in (pair.split("=", 1) for pair in line.split()[1:])}
    raise RuntimeError("venue not READY in time")


# -- a blocking FIX client ---------------------------------------------------------------------


def _message(msg_type: bytes, seq: int, body: list[tuple[int, bytes]]) -> bytes:
    header = [
        (35, msg_type),
        (49, SENDER.encode()),
        (56, b"MOCKEX"),
        (34, b"%d" % seq),
        (52, utc_timestamps.now()),
    ]
    return encode(header + body)


def new_orders(first_seq: int, count: int, prefix: str) -> list[bytes]:
    return [
        _message(
            b"D",
            first_seq + number,
            [
                (50, b"bench"),
                (11, b"%s-%d" % (prefix.encode(), number)),
                (55, b"BTC-USD"),
                (54, b"1"),
                (38, b"1"),
                (40, b"2"),
                (44, b"1"),
                (59, b"1"),
                (60, utc_timestamps.now()),
            ],
        )
        for number in range(count)
    ]


class AckCounter:
    """Counts ExecutionReports with ExecType new in a byte stream, across chunk boundaries."""

    def __init__(self) -> None:
        self._tail = b""
        self.count = 0

    def feed(self, data: bytes) -> int:
        window = self._tail + data
        found = window.count(ACK)
        self.count += found
        self._tail = window[-(len(ACK) - 1) :]
        return found


@contextlib.contextmanager
def logged_on(port: int) -> Iterator[socket.socket]:
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.sendall(_message(b"A", 1, [(98, b"0"), (108, b"30"), (141, b"Y")]))
        received = b""
        while b"\x0135=A\x01" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("venue closed the connection at logon")
            received += chunk
        yield sock
    finally:
        sock.close()


# -- 1. throughput -----------------------------------------------------------------------------


def throughput_run(port: int, run: int) -> float:
    orders = new_orders(2, THROUGHPUT_ORDERS, f"t{run}")
    window = threading.Semaphore(WINDOW)
    with logged_on(port) as sock:

        def send_all() -> None:
            for order in orders:
                window.acquire()
                sock.sendall(order)

        acks = AckCounter()
        sender = threading.Thread(target=send_all)
        started = time.perf_counter()
        sender.start()
        while acks.count < THROUGHPUT_ORDERS:
            data = sock.recv(1 << 20)
            if not data:
                raise RuntimeError("venue closed the connection")
            for _ in range(acks.feed(data)):
                window.release()
        elapsed = time.perf_counter() - started
        sender.join()
    return THROUGHPUT_ORDERS / elapsed


class _NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def _bench_config(ledger_path: Path) -> VenueConfig:
    return VenueConfig(
        fix_port=0, admin_port=0, sessions=(SessionConfig(sender_comp_id=SENDER),), ledger_path=ledger_path
    )


def _codec_loop_rate(orders: list[bytes], *, shaped: bool) -> float:
    """Parse every NewOrderSingle and encode one ExecutionReport each: the codec's limit.

    ``shaped``: as the venue does it, the layout learned from the first message (one regex match
    per message) and the report from its template; else every message split field by field and
    the report encoded from a field list.
    """
    session = FixSession(SENDER, "MOCKEX", cancel_on_disconnect=False)
    session.transport, session.logged_on = _NullTransport(), True
    shapes = MessageShapes()
    if shaped:
        (first,) = FixStreamParser().feed(orders[0])
        for _ in range(2):  # as the venue: the layout is compiled the second time it is seen
            shapes.learn(first)
    parser = FixStreamParser(shapes=shapes if shaped else None)
    execution = _report_execution()
    stream = b"".join(orders)
    started = time.perf_counter()
    for start in range(0, len(stream), 65536):
        for _ in parser.feed(stream[start : start + 65536]):
            if shaped:
                session.send_body(b"8", execution_report_body(execution), target_sub_id="bench")
            else:
                session.send(b"8", status_report_fields(execution.order, b"E1"), target_sub_id="bench")
    return len(orders) / (time.perf_counter() - started)


def _report_execution() -> Execution:
    return Execution(bench_order("O1", "t-1", received_ns=0), ExecType.NEW, "E1")


def bench_order(order_id: str, cl_ord_id: str, *, received_ns: int) -> Order:
    """A resting one-lot buy of the bench session."""
    return Order(
        order_id=order_id,
        cl_ord_id=cl_ord_id,
        sender_comp_id=SENDER,
        sender_sub_id="bench",
        instance="bench",
        symbol="BTC-USD",
        side=Side.BUY,
        ord_type=OrdType.LIMIT,
        tif=TimeInForce.GTC,
        price=1.0,
        qty=1,
        received_ns=received_ns,
    )


def _in_process_rate(root: Path, orders: list[bytes]) -> float:
    """The whole order-entry path without sockets or an event loop (collector tuned as the venue's)."""
    thresholds = gc.get_threshold()
    tune_garbage_collector()
    try:
        return _order_entry_rate(root, orders)
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _order_entry_rate(root: Path, orders: list[bytes]) -> float:
    config = _bench_config(root / f"in-process-{time.monotonic_ns()}.jsonl")
    with Ledger.open(config.ledger_path) as ledger:
        registry = SessionRegistry(config)
        entry = FixOrderEntry(
            MatchingEngine(config, ledger), ledger, registry, route_orphan_reports_to_firm=True
        )
        connection = AcceptorConnection(
            _NullTransport(),
            registry,
            OrderEntryListener(entry),
            default_heartbeat_s=30,
            logon_timeout_s=10,
            batch=ledger.deferred_flush,
        )
        connection.data_received(_message(b"A", 1, [(98, b"0"), (108, b"30"), (141, b"Y")]))
        stream = b"".join(orders)
        started = time.perf_counter()
        for start in range(0, len(stream), 65536):
            connection.data_received(stream[start : start + 65536])
        return len(orders) / (time.perf_counter() - started)


async def throughput(repeat: int) -> list[dict[str, Any]]:
    over_fix: list[float] = []
    codec: list[float] = []
    general_codec: list[float] = []
    in_process: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-venue-") as directory:
        root = Path(directory)
        for run in range(repeat):
            with venue_process(root) as venue:
                over_fix.append(throughput_run(venue.port, run))
            orders = new_orders(2, THROUGHPUT_ORDERS, f"c{run}")
            codec.append(_codec_loop_rate(orders, shaped=True))
            general_codec.append(_codec_loop_rate(orders, shaped=False))
            in_process.append(_in_process_rate(root, orders))
    return [
        _rate_figure("NewOrderSingle -> ack over one FIX session (orders/s)", over_fix, goal=">= 20000"),
        _rate_figure("bare codec loop: parse NOS + encode ER as the venue does, no sockets (msgs/s)", codec),
        _rate_figure("bare codec loop, general parser: field by field (msgs/s)", general_codec),
        _rate_figure("order entry in process: session + engine + ledger + encode (orders/s)", in_process),
    ]


def _rate_figure(name: str, rates: list[float], goal: str | None = None) -> dict[str, Any]:
    figure: dict[str, Any] = {
        "figure": name,
        "median": round(statistics.median(rates)),
        "min": round(min(rates)),
        "max": round(max(rates)),
        "runs": len(rates),
        "orders_per_run": THROUGHPUT_ORDERS,
    }
    if goal is not None:
        figure["goal"] = goal
    return {**figure, **machine()}


# -- 2. latency --------------------------------------------------------------------------------


def latency_run(port: int, run: int) -> list[float]:
    orders = new_orders(2, LATENCY_ORDERS, f"l{run}")
    latencies: list[float] = []
    with logged_on(port) as sock:
        acks = AckCounter()
        next_send = time.perf_counter()
        for order in orders:
            while (now := time.perf_counter()) < next_send:
                time.sleep(max(0.0, next_send - now - 0.0002))
            sent = time.perf_counter()
            sock.sendall(order)
            expected = acks.count + 1
            while acks.count < expected:
                data = sock.recv(65536)
                if not data:
                    raise RuntimeError("venue closed the connection")
                acks.feed(data)
            latencies.append(time.perf_counter() - sent)
            next_send += LATENCY_INTERVAL_S
    return latencies


async def latency(repeat: int) -> list[dict[str, Any]]:
    every: list[float] = []
    p50s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-venue-") as directory:
        for run in range(repeat):
            with venue_process(Path(directory)) as venue:
                run_latencies = latency_run(venue.port, run)
            every += run_latencies
            p50s.append(statistics.median(run_latencies))
    every.sort()
    return [
        {
            "figure": "ack latency at 1,000 orders/s, one FIX session, loopback (us)",
            "p50": round(statistics.median(every) * 1e6, 1),
            "p99": round(every[int(len(every) * 0.99)] * 1e6, 1),
            "max": round(every[-1] * 1e6, 1),
            "run_p50s": [round(value * 1e6, 1) for value in p50s],
            "orders": len(every),
            "goal": "p50 <= 100 us, p99 <= 1000 us",
            **machine(),
        }
    ]


# -- 3. ledger ---------------------------------------------------------------------------------


def _ledger_child(path: str, count: int, results: Any) -> None:
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with Ledger.open(Path(path)) as ledger:
        for number in range(count):
            order = bench_order(ledger.next_order_id(), f"bench-1-{number}", received_ns=time.monotonic_ns())
            ledger.record_order(order)
    record_s = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with Ledger.open(Path(path)) as replayed:
        assert len(replayed.orders) == count
    results.put(
        {
            "record_s": record_s,
            "replay_s": time.perf_counter() - started,
            "peak_rss_mb": peak_kb / 1024,
            "rss_growth_mb": (peak_kb - baseline_kb) / 1024,
            "file_mb": Path(path).stat().st_size / 1e6,
        }
    )


async def ledger(repeat: int) -> list[dict[str, Any]]:
    runs: list[dict[str, float]] = []
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="gameday-bench-ledger-") as directory:
        for run in range(min(repeat, 3)):
            results = context.Queue()
            child = context.Process(
                target=_ledger_child,
                args=(str(Path(directory) / f"ledger-{run}.jsonl"), LEDGER_ORDERS, results),
            )
            child.start()
            runs.append(results.get(timeout=600))
            child.join(timeout=60)
    return [
        {
            "figure": f"ledger: {LEDGER_ORDERS:,} orders recorded, then replayed",
            **{key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]},
            "runs": len(runs),
            **machine(),
        }
    ]
