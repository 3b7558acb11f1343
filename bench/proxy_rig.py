"""The processes and the API the proxy benches (:mod:`bench.proxy`, :mod:`bench.proxy_floor`) run
against: an upstream process serving an echo and a sink port, the proxy process, and a blocking
client of the proxy's API. Every process is stopped on the way out, whatever happened.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psutil

HOST = "127.0.0.1"
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
        line = readline_within(proc, START_TIMEOUT)
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


def readline_within(proc: subprocess.Popen[str], seconds: float) -> str:
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


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)
