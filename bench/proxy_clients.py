"""The clients of the proxy bench (:mod:`bench.proxy`): what each figure measures, direct to the
upstream or through the proxy. Blocking sockets for round trips and throughput (run in a worker
thread), asyncio for the latency toxic and the 1,000 connections, and a process of its own polling
the API meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from bench.proxy_rig import HOST, RUN_TIMEOUT, START_TIMEOUT, Api, readline_within

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


# -- blocking clients --------------------------------------------------------------------------
def connect_to(port: int) -> socket.socket:
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


def ping(sock: socket.socket) -> float:
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
    with connect_to(direct_port) as direct_sock, connect_to(proxy_port) as proxy_sock:
        if prepare is not None:
            prepare(proxy_sock)
        for batch in range((PING_WARMUP + PINGS) // PING_BATCH):
            for sock, samples in ((direct_sock, direct), (proxy_sock, proxied)):
                for _ in range(PING_BATCH):
                    elapsed = ping(sock)
                    if batch * PING_BATCH >= PING_WARMUP:
                        samples.append(elapsed)
                if time.monotonic() > deadline:
                    raise TimeoutError("round trips")
    return direct, proxied


def healer(api: Api, proxy: str) -> Callable[[socket.socket], None]:
    """Adds a latency toxic, pings through it, removes it: the connection lives on, healed."""

    def heal(sock: socket.socket) -> None:
        api.call("POST", f"/proxies/{proxy}/toxics", HEAL_TOXIC)
        for _ in range(HEAL_PINGS):
            if ping(sock) < HEAL_LATENCY_MS / 1000:
                raise RuntimeError("the heal toxic did not apply")
        api.call("DELETE", f"/proxies/{proxy}/toxics/{HEAL_TOXIC['name']}")

    return heal


def throughput(port: int) -> float:
    """Bytes per second of ``THROUGHPUT_BYTES`` sent to the sink, until its count comes back."""
    block = memoryview(bytes(SEND_BLOCK))
    with connect_to(port) as sock:
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
async def precision(port: int) -> list[float]:
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


async def echo_client(port: int, index: int) -> int:
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
def api_poller(port: int, samples: dict[str, list[float]]) -> Iterator[None]:
    """Make the calls of PROBES every API_INTERVAL from a separate process."""
    count = str(int(RUN_TIMEOUT / API_INTERVAL))
    args = [sys.executable, "-c", POLLER, str(port), json.dumps(PROBES), str(API_INTERVAL), count]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        if readline_within(proc, START_TIMEOUT) != "READY":
            raise RuntimeError("API poller not ready")
        yield
        proc.terminate()
        for kind, values in json.loads(readline_within(proc, RUN_TIMEOUT)).items():
            samples.setdefault(kind, []).extend(values)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


def toggle_while_stalled(api: Api, port: int) -> tuple[float, float, bool]:
    """Fill the path to a client that does not read, then add and remove a latency toxic.

    Returns the POST and DELETE round trips (s) and whether every byte written then came back
    from the echo, in order (the proxy held the backlog through both moves)."""
    block = random.Random(5).randbytes(SEND_BLOCK)
    sent, received = hashlib.sha256(), hashlib.sha256()
    with connect_to(port) as sock:
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
