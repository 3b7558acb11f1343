"""The Toxiproxy-compatible proxy (issue 6), measured side by side with a direct connection.

Processes (the machine has 2 cores; they share them, nothing is pinned):

- the proxy: ``python -m gameday.proxy --host 127.0.0.1 --port 0 --seed 1``, its own process;
- the upstreams: one more process (``UPSTREAM`` below, asyncio) serving an echo port and a sink
  port, so the proxy and the upstream never share a loop;
- the clients: this process. Round trips and throughput use blocking sockets in a worker thread
  (one connection at a time, so at most the client, the proxy and the upstream are busy: three
  processes on two cores); the latency-toxic and 1,000-connection figures use this event loop;
- while the 1,000 connections run, the API is polled by one more process (``POLLER``, blocking
  ``http.client``; the calls of ``PROBES`` each time), so the load generator does not delay the
  poller: four busy processes then.

Figures:

1. added round trip, 64-byte echo, no toxics: p50/p99 direct and through the proxy; and the
   same on a long-lived connection *healed*: a latency toxic added, used and removed first;
2. throughput through one connection, no toxics: ``THROUGHPUT_BYTES`` per run to the sink, and
   the proxy process's CPU time per GiB forwarded (steadier than GiB/s on a shared machine);
3. latency toxic 100 ms: error of the observed delay against 100 ms + the toxic-free round trip
   of the same client (median);
4. 1,000 concurrent connections with a 100 ms latency toxic: every byte back and equal, API
   round trips while loaded: a read, a change of another proxy (a toxic added, then removed: each
   a data-plane operation) and a change of the loaded proxy (its toxic updated on every link);
5. adding then removing a toxic while a client does not read its side (its socket buffers full):
   API round trips of the POST and the DELETE; then the client reads the backlog, which must be
   every byte it wrote, in order.

Every loop is bounded in count and in time; loopback only; every process stopped in ``finally``.

A/B: ``BENCH_PROXY_TREE=/tmp/before`` runs the proxy process from that tree (a directory holding
a ``gameday`` package: a copy of this checkout's with the files under test as they were) instead
of this checkout; run the bench with and without it, alternating, in one sitting.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import psutil

from bench.machine import machine

HOST = "127.0.0.1"
PING_SIZE = 64
PINGS = 2000  # per run and path, after PING_WARMUP
PING_WARMUP = 200
PING_BATCH = 100
HEAL_PINGS = 50  # round trips through the toxic before it is removed
HEAL_LATENCY_MS = 1
HEAL_TOXIC = {"name": "heal", "type": "latency", "stream": "downstream",
              "attributes": {"latency": HEAL_LATENCY_MS}}
THROUGHPUT_BYTES = 512 * 1024 * 1024  # per run and path
SEND_BLOCK = 256 * 1024
LATENCY_MS = 100
PRECISION_MESSAGES = 150  # per run, one every PRECISION_INTERVAL s on one connection
PRECISION_INTERVAL = 0.01
CONCURRENT = 1000
CONCURRENT_ROUNDS = 10  # per connection: write ROUND_BYTES, read them back
ROUND_BYTES = 512
API_INTERVAL = 0.02  # s between API polls while loaded
STALL_BYTES = 64 * 1024 * 1024  # written by the client that does not read (bounded)
LATENCY_TOXIC = {"name": "lat", "type": "latency", "stream": "downstream",
                 "attributes": {"latency": LATENCY_MS}}
START_TIMEOUT = 10.0
RUN_TIMEOUT = 60.0
PROXY_TREE_ENV = "BENCH_PROXY_TREE"  # run the proxy from this tree (A/B), not this checkout

# The upstream process: an echo port and a sink port. The sink reads an 8-byte big-endian length,
# then that many bytes, and answers the 8-byte count back.
UPSTREAM = r"""
import asyncio, signal, struct

class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        self.transport.write(data)
    def pause_writing(self):  # flow control: a peer that does not read stops our reading
        self.transport.pause_reading()
    def resume_writing(self):
        self.transport.resume_reading()

class Sink(asyncio.BufferedProtocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = bytearray(1024 * 1024)
        self.view = memoryview(self.buffer)
        self.header = b""
        self.need = None
        self.got = 0
    def get_buffer(self, sizehint):
        return self.view
    def buffer_updated(self, nbytes):
        start = 0
        if self.need is None:
            take = min(8 - len(self.header), nbytes)
            self.header += bytes(self.view[:take])
            start = take
            if len(self.header) < 8:
                return
            self.need = struct.unpack(">Q", self.header)[0]
        self.got += nbytes - start
        if self.got >= self.need:
            self.transport.write(struct.pack(">Q", self.got))
            self.header, self.need, self.got = b"", None, 0

async def main():
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    echo = await loop.create_server(Echo, "127.0.0.1", 0, backlog=4096)
    sink = await loop.create_server(Sink, "127.0.0.1", 0, backlog=16)
    ports = (echo.sockets[0].getsockname()[1], sink.sockets[0].getsockname()[1])
    print("READY echo=%d sink=%d" % ports, flush=True)
    await stop.wait()

asyncio.run(main())
"""


# -- processes ---------------------------------------------------------------------------------
@contextlib.contextmanager
def ready_process(
    args: list[str], cwd: str | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], dict[str, int]]]:
    """Start a process that prints ``READY k=v ...``; yield it and the ports; stop it at exit."""
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env, cwd=cwd)
    try:
        assert proc.stdout is not None
        line = _readline_within(proc, START_TIMEOUT)
        if not line.startswith("READY "):
            raise RuntimeError(f"{args}: expected READY, got {line!r}")
        ports = {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}
        yield proc, ports
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


def _readline_within(proc: subprocess.Popen[str], seconds: float) -> str:
    result: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline() if proc.stdout else ""),
                              daemon=True)
    reader.start()
    reader.join(seconds)
    if not result:
        raise RuntimeError(f"process {proc.args!r} not ready within {seconds} s")
    return result[0].strip()


# -- the API, blocking (used from threads) -----------------------------------------------------
class Api:
    def __init__(self, port: int) -> None:
        self._conn = http.client.HTTPConnection(HOST, port, timeout=10)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """(status, decoded body or None, seconds)."""
        payload = None if body is None else json.dumps(body)
        started = time.perf_counter()
        self._conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
        response = self._conn.getresponse()
        raw = response.read()
        elapsed = time.perf_counter() - started
        is_json = response.headers.get_content_type() == "application/json"
        decoded = json.loads(raw) if raw and is_json else None
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {raw.decode(errors='replace')}")
        return response.status, decoded, elapsed

    def close(self) -> None:
        self._conn.close()


def create_proxy(api: Api, name: str, upstream_port: int) -> int:
    _, body, _ = api.call("POST", "/proxies", {"name": name, "listen": f"{HOST}:0",
                                               "upstream": f"{HOST}:{upstream_port}"})
    return int(body["listen"].rsplit(":", 1)[1])


# -- blocking clients --------------------------------------------------------------------------
def _connect(port: int) -> socket.socket:
    sock = socket.create_connection((HOST, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            raise ConnectionError("closed early")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _ping(sock: socket.socket) -> float:
    """Seconds for one 64-byte echo round trip."""
    message = bytes(range(PING_SIZE))
    started = time.perf_counter()
    sock.sendall(message)
    if _recv_exactly(sock, PING_SIZE) != message:
        raise RuntimeError("echo mismatch")
    return time.perf_counter() - started


def round_trips(
    direct_port: int, proxy_port: int, prepare: Callable[[socket.socket], None] | None = None
) -> tuple[list[float], list[float]]:
    """Seconds per 64-byte echo round trip, direct and proxied: ``PINGS`` of each after a warm-up,
    alternating in batches of ``PING_BATCH`` so drift on the machine hits both alike.
    ``prepare`` gets the proxied connection first."""
    direct: list[float] = []
    proxied: list[float] = []
    deadline = time.monotonic() + RUN_TIMEOUT
    with _connect(direct_port) as direct_sock, _connect(proxy_port) as proxy_sock:
        if prepare is not None:
            prepare(proxy_sock)
        for batch in range((PING_WARMUP + PINGS) // PING_BATCH):
            for sock, samples in ((direct_sock, direct), (proxy_sock, proxied)):
                for _ in range(PING_BATCH):
                    elapsed = _ping(sock)
                    if batch * PING_BATCH >= PING_WARMUP:
                        samples.append(elapsed)
                if time.monotonic() > deadline:
                    raise TimeoutError("round trips")
    return direct, proxied


def _healer(api: Api, proxy: str) -> Callable[[socket.socket], None]:
    """Adds a latency toxic, pings through it, removes it: the connection lives on, healed."""

    def heal(sock: socket.socket) -> None:
        api.call("POST", f"/proxies/{proxy}/toxics", HEAL_TOXIC)
        for _ in range(HEAL_PINGS):
            if _ping(sock) < HEAL_LATENCY_MS / 1000:
                raise RuntimeError("the heal toxic did not apply")
        api.call("DELETE", f"/proxies/{proxy}/toxics/{HEAL_TOXIC['name']}")

    return heal


def _throughput(port: int) -> float:
    """Bytes per second of ``THROUGHPUT_BYTES`` sent to the sink, until its count comes back."""
    block = memoryview(bytes(SEND_BLOCK))
    with _connect(port) as sock:
        sock.settimeout(RUN_TIMEOUT)
        started = time.perf_counter()
        sock.sendall(struct.pack(">Q", THROUGHPUT_BYTES))
        for _ in range(THROUGHPUT_BYTES // SEND_BLOCK):
            sock.sendall(block)
        got = struct.unpack(">Q", _recv_exactly(sock, 8))[0]
        elapsed = time.perf_counter() - started
    if got != THROUGHPUT_BYTES:
        raise RuntimeError(f"sink counted {got} of {THROUGHPUT_BYTES}")
    return THROUGHPUT_BYTES / elapsed


# -- asyncio clients ---------------------------------------------------------------------------
async def _precision(port: int) -> list[float]:
    """Observed round trips (s) of messages sent every PRECISION_INTERVAL on one connection."""
    reader, writer = await asyncio.open_connection(HOST, port)
    sent: dict[int, float] = {}
    observed: list[float] = []

    async def read_all() -> None:
        for _ in range(PRECISION_MESSAGES):
            frame = await reader.readexactly(PING_SIZE)
            arrived = time.perf_counter()
            observed.append(arrived - sent[struct.unpack_from(">I", frame)[0]])

    try:
        receiving = asyncio.create_task(read_all())
        for seq in range(PRECISION_MESSAGES):
            sent[seq] = time.perf_counter()
            writer.write(struct.pack(">I", seq).ljust(PING_SIZE, b"."))
            await asyncio.sleep(PRECISION_INTERVAL)
        await asyncio.wait_for(receiving, LATENCY_MS / 1000 + RUN_TIMEOUT)
    finally:
        writer.close()
    return observed


async def _echo_client(port: int, index: int) -> int:
    """CONCURRENT_ROUNDS rounds of ROUND_BYTES out and back; bytes that came back wrong or missing."""
    reader, writer = await asyncio.open_connection(HOST, port)
    lost = 0
    try:
        for round_ in range(CONCURRENT_ROUNDS):
            payload = bytes((index * 7 + round_ + i) % 251 for i in range(ROUND_BYTES))
            writer.write(payload)
            try:
                back = await reader.readexactly(ROUND_BYTES)
            except asyncio.IncompleteReadError as exc:
                return lost + ROUND_BYTES * (CONCURRENT_ROUNDS - round_) - len(exc.partial)
            lost += sum(a != b for a, b in zip(back, payload, strict=True))
    finally:
        writer.close()
    return lost


# The API calls of each poll while the 1,000 connections run: (kind, method, path, body).
PROBES = [
    ("read", "GET", "/proxies/bench_load", None),
    ("change", "POST", "/proxies/bench_sink/toxics", {"name": "probe", "type": "noop"}),
    ("change", "DELETE", "/proxies/bench_sink/toxics/probe", None),
    ("change_loaded", "POST", f"/proxies/bench_load/toxics/{LATENCY_TOXIC['name']}",
     {"attributes": LATENCY_TOXIC["attributes"]}),
]

# The API poller process: every interval, the calls of PROBES (argv[2], JSON), until SIGTERM (or
# a count); then one JSON line of the round trips (s) of each kind. A process of its own, so the
# load in this one does not delay it.
POLLER = r"""
import http.client, json, signal, sys, time
port, probes = int(sys.argv[1]), json.loads(sys.argv[2])
interval, count = float(sys.argv[3]), int(sys.argv[4])
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
samples = {kind: [] for kind, *_ in probes}
print("READY", flush=True)
for _ in range(count):
    if stop:
        break
    for kind, method, path, body in probes:
        started = time.perf_counter()
        conn.request(method, path, body=None if body is None else json.dumps(body))
        response = conn.getresponse()
        response.read()
        samples[kind].append(time.perf_counter() - started)
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status}")
    time.sleep(interval)
conn.close()
print(json.dumps(samples), flush=True)
"""


@contextlib.contextmanager
def _api_poller(port: int, samples: dict[str, list[float]]) -> Iterator[None]:
    """Make the calls of PROBES every API_INTERVAL from a separate process."""
    count = str(int(RUN_TIMEOUT / API_INTERVAL))
    args = [sys.executable, "-c", POLLER, str(port), json.dumps(PROBES), str(API_INTERVAL), count]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        if _readline_within(proc, START_TIMEOUT) != "READY":
            raise RuntimeError("API poller not ready")
        yield
        proc.terminate()
        for kind, values in json.loads(_readline_within(proc, RUN_TIMEOUT)).items():
            samples.setdefault(kind, []).extend(values)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


# -- figures -----------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 1)


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 3)


@contextlib.asynccontextmanager
async def upstream_and_proxy() -> AsyncIterator[tuple[dict[str, int], int, psutil.Process]]:
    """The upstream ports, the proxy's API port and the proxy process."""
    proxy_args = [sys.executable, "-m", "gameday.proxy", "--host", HOST, "--port", "0", "--seed", "1"]
    tree = os.environ.get(PROXY_TREE_ENV) or None
    env = None if tree is None else {"PYTHONPATH": tree}
    with (
        ready_process([sys.executable, "-c", UPSTREAM]) as (_, upstream),
        ready_process(proxy_args, cwd=tree, env=env) as (proc, proxy),
    ):
        yield upstream, proxy["api"], psutil.Process(proc.pid)


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def main(repeat: int) -> list[dict[str, Any]]:
    host = machine()
    async with upstream_and_proxy() as (upstream, api_port, proxy_process):
        api = Api(api_port)
        try:
            echo_via = create_proxy(api, "bench_echo", upstream["echo"])
            sink_via = create_proxy(api, "bench_sink", upstream["sink"])
            load_via = create_proxy(api, "bench_load", upstream["echo"])

            # 1. round trips, direct and proxied alternating in batches
            direct_rt: list[float] = []
            proxy_rt: list[float] = []
            run_added: list[float] = []
            for _ in range(repeat):
                d, p = await asyncio.to_thread(round_trips, upstream["echo"], echo_via)
                direct_rt += d
                proxy_rt += p
                run_added.append(statistics.median(p) - statistics.median(d))
            healed_direct: list[float] = []
            healed_proxy: list[float] = []
            for _ in range(repeat):
                heal = _healer(api, "bench_echo")
                d, p = await asyncio.to_thread(round_trips, upstream["echo"], echo_via, heal)
                healed_direct += d
                healed_proxy += p

            # 2. throughput, direct and proxied alternating per run
            direct_bps: list[float] = []
            proxy_bps: list[float] = []
            cpu_per_gib: list[float] = []
            for _ in range(repeat):
                direct_bps.append(await asyncio.to_thread(_throughput, upstream["sink"]))
                cpu_before = _cpu_seconds(proxy_process)
                proxy_bps.append(await asyncio.to_thread(_throughput, sink_via))
                cpu_per_gib.append((_cpu_seconds(proxy_process) - cpu_before) / (THROUGHPUT_BYTES / 1024**3))

            # 3. latency toxic precision (downstream, 100 ms), against the same client's round trip
            # without the toxic
            baseline = statistics.median(await _precision(echo_via))
            api.call("POST", "/proxies/bench_echo/toxics", LATENCY_TOXIC)
            errors: list[float] = []
            for _ in range(repeat):
                for rtt in await _precision(echo_via):
                    errors.append(rtt - LATENCY_MS / 1000 - baseline)
            api.call("DELETE", "/proxies/bench_echo/toxics/lat")

            # 4. 1,000 connections through one proxy with a latency toxic, API polled meanwhile
            api.call("POST", "/proxies/bench_load/toxics", LATENCY_TOXIC)
            idle_api = [api.call("GET", "/proxies/bench_load")[2] for _ in range(50)]
            loaded_api: dict[str, list[float]] = {}
            lost = 0
            load_seconds: list[float] = []
            for _ in range(repeat):
                with _api_poller(api_port, loaded_api):
                    started = time.perf_counter()
                    results = await asyncio.wait_for(
                        asyncio.gather(*(_echo_client(load_via, i) for i in range(CONCURRENT))), RUN_TIMEOUT)
                    load_seconds.append(time.perf_counter() - started)
                lost += sum(results)
            api.call("DELETE", "/proxies/bench_load/toxics/lat")

            # 5. add/remove a toxic while a client does not read its side
            add_s: list[float] = []
            remove_s: list[float] = []
            intact: list[bool] = []
            for _ in range(repeat):
                a, r, whole = await asyncio.to_thread(_toggle_while_stalled, api, echo_via)
                add_s.append(a)
                remove_s.append(r)
                intact.append(whole)
        finally:
            api.close()

    direct_p50, proxy_p50 = statistics.median(direct_rt), statistics.median(proxy_rt)
    gib = 1024**3
    direct_tp, proxy_tp = statistics.median(direct_bps), statistics.median(proxy_bps)
    abs_errors = [abs(e) for e in errors]
    return [
        {"figure": "added round trip, 64-byte echo, no toxics (us)", "p50": _us(proxy_p50 - direct_p50),
         "p99": _us(_pct(proxy_rt, 0.99) - _pct(direct_rt, 0.99)),
         "direct": {"p50": _us(direct_p50), "p99": _us(_pct(direct_rt, 0.99))},
         "proxy": {"p50": _us(proxy_p50), "p99": _us(_pct(proxy_rt, 0.99))},
         "added_p50_per_run": [_us(x) for x in run_added], "added": _us(proxy_p50 - direct_p50),
         "ratio": round(proxy_p50 / direct_p50, 2), "round_trips": len(proxy_rt), "runs": repeat,
         "goal": "<= 35 us p50 added", **host},
        {"figure": "added round trip on a healed connection (toxic added, used, removed) (us)",
         "p50": _us(statistics.median(healed_proxy) - statistics.median(healed_direct)),
         "direct": {"p50": _us(statistics.median(healed_direct))},
         "proxy": {"p50": _us(statistics.median(healed_proxy)), "p99": _us(_pct(healed_proxy, 0.99))},
         "ratio": round(statistics.median(healed_proxy) / statistics.median(healed_direct), 2),
         "round_trips": len(healed_proxy), "runs": repeat, "goal": "as a fresh connection", **host},
        {"figure": "throughput, one connection, no toxics (GiB/s)", "median": round(proxy_tp / gib, 3),
         "direct": round(direct_tp / gib, 3), "proxy": round(proxy_tp / gib, 3),
         "proxy_per_run": [round(x / gib, 3) for x in proxy_bps],
         "direct_per_run": [round(x / gib, 3) for x in direct_bps],
         "ratio": round(proxy_tp / direct_tp, 3),
         "proxy_cpu_seconds_per_gib": round(statistics.median(cpu_per_gib), 3),
         "bytes_per_run": THROUGHPUT_BYTES, "runs": repeat,
         "goal": ">= 1.1 GiB/s", **host},
        {"figure": "latency toxic 100 ms, |observed - requested| (ms)", "p50": _ms(_pct(abs_errors, 0.5)),
         "p99": _ms(_pct(abs_errors, 0.99)), "max": _ms(max(abs_errors)),
         "signed_median": _ms(statistics.median(errors)), "baseline_round_trip_ms": _ms(baseline),
         "messages": len(errors), "runs": repeat, "goal": "<= 2 ms", **host},
        {"figure": "1,000 connections + latency toxic: API round trip while loaded (ms)",
         **{kind: {"p50": _ms(_pct(values, 0.5)), "p99": _ms(_pct(values, 0.99)), "max": _ms(max(values)),
                   "calls": len(values)} for kind, values in loaded_api.items()},
         "idle_read": {"p50": _ms(_pct(idle_api, 0.5)), "p99": _ms(_pct(idle_api, 0.99))},
         "bytes_lost": lost,
         "bytes_each_way": CONCURRENT * CONCURRENT_ROUNDS * ROUND_BYTES * repeat,
         "load_seconds_per_run": [round(x, 2) for x in load_seconds], "connections": CONCURRENT,
         "runs": repeat,
         "goal": "no byte lost; API <= 50 ms", **host},
        {"figure": "add/remove a toxic while the client does not read (ms)",
         "add_median": _ms(statistics.median(add_s)), "add_max": _ms(max(add_s)),
         "remove_median": _ms(statistics.median(remove_s)), "remove_max": _ms(max(remove_s)),
         "every_byte_echoed_in_order": all(intact), "runs": repeat,
         "goal": "API not blocked (<= 50 ms)",
         **host},
    ]


def _toggle_while_stalled(api: Api, port: int) -> tuple[float, float, bool]:
    """Fill the path to a client that does not read, then add and remove a latency toxic.

    Returns the POST and DELETE round trips (s) and whether every byte written then came back
    from the echo, in order (the proxy held the backlog through both moves)."""
    block = random.Random(5).randbytes(SEND_BLOCK)
    sent, received = hashlib.sha256(), hashlib.sha256()
    with _connect(port) as sock:
        sock.setblocking(False)
        written = 0
        deadline = time.monotonic() + RUN_TIMEOUT
        idle_since = None
        # write until nothing more is accepted for 0.2 s (every buffer on the way is full)
        while written < STALL_BYTES and time.monotonic() < deadline:
            try:
                taken = sock.send(block)
            except BlockingIOError:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 0.2:
                    break
                time.sleep(0.005)
                continue
            sent.update(block[:taken])
            written += taken
            idle_since = None
        toxic = {"name": "stall", "type": "latency", "stream": "downstream", "attributes": {"latency": 5}}
        _, _, add = api.call("POST", "/proxies/bench_echo/toxics", toxic)
        _, _, remove = api.call("DELETE", "/proxies/bench_echo/toxics/stall")
        sock.settimeout(RUN_TIMEOUT)
        echoed = 0
        while echoed < written:
            chunk = sock.recv(min(1024 * 1024, written - echoed))
            if not chunk:
                break
            received.update(chunk)
            echoed += len(chunk)
    return add, remove, echoed == written and sent.digest() == received.digest()
