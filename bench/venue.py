"""The venue (issue 3): NewOrderSingle -> ack throughput and latency over FIX, and the ledger.

Processes (2 cores, nothing pinned): the venue is its own process (``python -m mock_exchange
--config ...``, logging at WARNING); the FIX client is this process, blocking sockets on
loopback, messages pre-encoded with the venue's codec before the clock starts (both in
:mod:`bench.venue_process`).

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

import gc
import multiprocessing
import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.machine import machine
from bench.venue_process import (
    SENDER,
    AckCounter,
    bench_config,
    logged_on,
    logon_message,
    new_orders,
    venue_process,
)
from mock_exchange.book import MatchingEngine
from mock_exchange.cli import tune_garbage_collector
from mock_exchange.executions import Execution
from mock_exchange.fix.codec import FixStreamParser
from mock_exchange.fix.connection import AcceptorConnection
from mock_exchange.fix.fields import execution_report_body, status_report_fields
from mock_exchange.fix.session import FixSession, SessionRegistry
from mock_exchange.fix.shapes import MessageShapes
from mock_exchange.ledger import Ledger
from mock_exchange.model import ExecType, Order, OrdType, Side, TimeInForce
from mock_exchange.order_entry import FixOrderEntry, OrderEntryListener

THROUGHPUT_ORDERS = 50_000
WINDOW = 2_000
LATENCY_ORDERS = 3_000
LATENCY_INTERVAL_S = 0.001
LEDGER_ORDERS = 1_000_000


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
    config = bench_config(root / f"in-process-{time.monotonic_ns()}.jsonl")
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
        connection.data_received(logon_message())
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
