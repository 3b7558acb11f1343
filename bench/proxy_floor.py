"""The floor of the added round trip: the proxy beside the least a Python forwarder can do.

``python -m bench proxy-floor --repeat N``: three paths to the same echo upstream
(``proxy.UPSTREAM``), measured interleaved in one sitting: direct; through ``FORWARDER``, a
minimal forwarder process (one thread, epoll, ``recv_into``/``send``, spinning 200 µs after each
event, no API, no toxics, no accounting); and through the gameday proxy. The forwarder's added
round trip is what any Python process in the path costs on this machine; the proxy's excess
over it is the price of everything else it does.

Each of the N runs measures twice: on the machine as it is, then beside one CPU burner per core
(``gameday.stress.BURNER_ARGV``, nice 0: a busy machine). In a run, one connection per path
pings 64 bytes in batches of ``PING_BATCH``, the paths taking turns (the order rotating every
batch), so drift on the machine hits every path alike. Figures per load: p50, p99 and max of the
round trip and of the added round trip (the path's quantile less direct's), each path's p99 per
run, the ratios proxy / floor (pooled, and the median of the runs' own ratios), and the load
average (1 min) before and after each run.

A/B: ``BENCH_PROXY_VARIANTS="before=/tmp/before,other=/tmp/x"`` adds one more proxy per entry,
run from that tree (a directory holding a ``gameday`` package: a copy of this checkout's with the
files under test as they were) and measured in the same turns as the others; ``ab`` then
compares the proxy with each (pooled ratios, and in how many runs the proxy's p99 was lower).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psutil

from bench.machine import machine
from bench.proxy_clients import PING_BATCH, PING_WARMUP, PINGS, connect_to, ping
from bench.proxy_rig import RUN_TIMEOUT, START_TIMEOUT, UPSTREAM, Api, create_proxy, ready_process
from gameday.stress import BURNER_ARGV

FORWARDER = r"""
import select, socket, sys, time

SPIN = 200e-6
listener = socket.create_server(("127.0.0.1", 0))
print(f"READY port={listener.getsockname()[1]}", flush=True)
epoll = select.epoll()
epoll.register(listener.fileno(), select.EPOLLIN)
socks, peers = {}, {}
buffer = bytearray(65536)
view = memoryview(buffer)
busy_until = 0.0
while True:
    events = epoll.poll(0 if time.perf_counter() < busy_until else -1)
    for fd, _ in events:
        if fd == listener.fileno():
            client, _ = listener.accept()
            server = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            for one, other in ((client, server), (server, client)):
                one.setblocking(False)
                one.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                socks[one.fileno()], peers[one.fileno()] = one, other
                epoll.register(one.fileno(), select.EPOLLIN)
            continue
        size = socks[fd].recv_into(buffer)
        if size == 0:
            for one in (socks.pop(fd), peers.pop(fd)):
                epoll.unregister(one.fileno())
                socks.pop(one.fileno(), None)
                one.close()
            continue
        peers[fd].sendall(view[:size])
    if events:
        busy_until = time.perf_counter() + SPIN
"""

VARIANTS_ENV = "BENCH_PROXY_VARIANTS"
LOADS = ("as is", "burners")  # the machine as it is; one burner per core beside the runs
BURNER_START = 0.05  # CPU s each burner has used before it counts as burning
GOAL_RATIO = 1.5  # proxy p99 / floor p99


def _variants() -> dict[str, str]:
    """label -> tree, from ``BENCH_PROXY_VARIANTS``."""
    text = os.environ.get(VARIANTS_ENV, "").strip()
    variants: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        label, _, tree = item.partition("=")
        if not tree or label in ("direct", "floor", "proxy"):
            raise ValueError(f"{VARIANTS_ENV}: expected label=tree, got {item!r}")
        variants[label] = os.path.abspath(tree)
    return variants


def _check_tree(tree: str) -> None:
    """The proxy started from ``tree`` runs that tree's code, not the installed one."""
    probe = "import gameday.proxy.fastlane as m; print(m.__file__)"
    where = subprocess.run([sys.executable, "-c", probe], cwd=tree, env={**os.environ, "PYTHONPATH": tree},
                           capture_output=True, text=True, timeout=START_TIMEOUT, check=True).stdout.strip()
    if not where.startswith(tree + os.sep):
        raise RuntimeError(f"a proxy run from {tree} would load {where}")


@contextlib.contextmanager
def _burners(count: int) -> Iterator[list[int]]:
    """``count`` processes burning a core each (as ``gameday --stress``), until the block ends."""
    procs = [subprocess.Popen(BURNER_ARGV, stdin=subprocess.DEVNULL) for _ in range(count)]
    try:
        deadline = time.monotonic() + START_TIMEOUT
        watched = [psutil.Process(proc.pid) for proc in procs]
        while any(sum(p.cpu_times()[:2]) < BURNER_START for p in watched):
            if time.monotonic() > deadline:
                raise RuntimeError("burners did not start burning")
            time.sleep(0.01)
        yield [proc.pid for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait(timeout=5)


def interleaved_round_trips(ports: dict[str, int]) -> dict[str, list[float]]:
    """Seconds per 64-byte echo round trip on each path: ``PINGS`` after ``PING_WARMUP``, the
    paths taking turns in batches of ``PING_BATCH``, the order rotating each batch."""
    samples: dict[str, list[float]] = {name: [] for name in ports}
    deadline = time.monotonic() + RUN_TIMEOUT * len(ports)
    with contextlib.ExitStack() as stack:
        socks = {name: stack.enter_context(connect_to(port)) for name, port in ports.items()}
        order = list(socks)
        for batch in range((PING_WARMUP + PINGS) // PING_BATCH):
            turn = order[batch % len(order):] + order[:batch % len(order)]
            for name in turn:
                for _ in range(PING_BATCH):
                    elapsed = ping(socks[name])
                    if batch * PING_BATCH >= PING_WARMUP:
                        samples[name].append(elapsed)
            if time.monotonic() > deadline:
                raise TimeoutError("round trips")
    return samples


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 1)


def _figure(
    load: str, runs: list[dict[str, list[float]]], loadavg: list[float], burners: int
) -> dict[str, Any]:
    paths = list(runs[0])
    every = {name: [x for run in runs for x in run[name]] for name in paths}
    direct = every["direct"]
    stats: dict[str, Any] = {}
    for name in paths:
        values = every[name]
        stats[name] = {"p50": _us(statistics.median(values)), "p99": _us(_pct(values, 0.99)),
                       "max": _us(max(values)), "p99_per_run": [_us(_pct(run[name], 0.99)) for run in runs]}
        if name != "direct":
            stats[name]["added_p50"] = _us(statistics.median(values) - statistics.median(direct))
            stats[name]["added_p99"] = _us(_pct(values, 0.99) - _pct(direct, 0.99))
    ratios: dict[str, Any] = {}
    floor = every["floor"]
    for name in paths:
        if name in ("direct", "floor"):
            continue
        values = every[name]
        per_run = [_pct(run[name], 0.99) / _pct(run["floor"], 0.99) for run in runs]
        ratios[f"{name}/floor"] = {
            "p50": round(statistics.median(values) / statistics.median(floor), 2),
            "p99": round(_pct(values, 0.99) / _pct(floor, 0.99), 2),
            "p99_per_run": [round(x, 2) for x in per_run],
            "p99_median_per_run": round(statistics.median(per_run), 2),
            "runs_within_goal": sum(x <= GOAL_RATIO for x in per_run),
        }
    ab: dict[str, Any] = {}
    for name in paths:
        if name in ("direct", "floor", "proxy"):
            continue
        per_run = [_pct(run["proxy"], 0.99) / _pct(run[name], 0.99) for run in runs]
        ab[f"proxy/{name}"] = {
            "p50": round(statistics.median(every["proxy"]) / statistics.median(every[name]), 2),
            "p99": round(_pct(every["proxy"], 0.99) / _pct(every[name], 0.99), 2),
            "p99_median_per_run": round(statistics.median(per_run), 2),
            "runs_proxy_p99_lower": sum(x < 1 for x in per_run),
        }
    return {
        "figure": f"round trip, 64-byte echo, no toxics, machine {load}: direct, floor forwarder, proxy (us)",
        "load": load, "burners": burners, "loadavg_1m": [round(x, 2) for x in loadavg],
        **stats, "ratios": ratios, **({"ab": ab} if ab else {}), "round_trips_per_path": len(direct),
        "runs": len(runs),
        "goal": f"proxy p99 <= {GOAL_RATIO} x floor p99", **machine(),
    }


async def main(repeat: int) -> list[dict[str, Any]]:
    variants = _variants()
    for variant in variants.values():
        _check_tree(variant)
    proxy_args = [sys.executable, "-m", "gameday.proxy", "--host", "127.0.0.1", "--port", "0", "--seed", "1"]
    cores = os.cpu_count() or 1
    runs: dict[str, list[dict[str, list[float]]]] = {load: [] for load in LOADS}
    loadavg: dict[str, list[float]] = {load: [] for load in LOADS}
    with contextlib.ExitStack() as stack:
        _, upstream = stack.enter_context(ready_process([sys.executable, "-c", UPSTREAM]))
        forwarder_args = [sys.executable, "-c", FORWARDER, str(upstream["echo"])]
        _, forwarder = stack.enter_context(ready_process(forwarder_args))
        ports = {"direct": upstream["echo"], "floor": forwarder["port"]}
        trees: dict[str, str | None] = {"proxy": None, **variants}
        for name, tree in trees.items():
            env = None if tree is None else {"PYTHONPATH": tree}
            _, proxy = stack.enter_context(ready_process(proxy_args, cwd=tree, env=env))
            api = Api(proxy["api"])
            stack.callback(api.close)
            ports[name] = create_proxy(api, "floor_echo", upstream["echo"])
        for _ in range(repeat):
            for load in LOADS:
                with _burners(cores if load == "burners" else 0):
                    loadavg[load].append(os.getloadavg()[0])
                    runs[load].append(await asyncio.to_thread(interleaved_round_trips, ports))
                    loadavg[load].append(os.getloadavg()[0])
    return [_figure(load, runs[load], loadavg[load], cores if load == "burners" else 0) for load in LOADS]
