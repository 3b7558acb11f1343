"""The venue at a git revision against the working tree, side by side (issue 3 benchmarks).

``python -m bench.venue_compare REV [--repeat N]``: extracts ``mock_exchange`` as it was at REV
(``git archive``, read-only) and alternates runs of both venues, each a fresh process, so both
see the same load on a shared machine: NewOrderSingle -> ack throughput over one FIX session (with
the venue process's CPU time per order, which load from other processes barely moves) and ack
latency at 1,000 orders/s, as in :mod:`bench.venue`. Prints one JSON line per figure with
the medians, the ratio current/baseline and the load averages before and after.

Beside them, the latency floor: the same client against a do-nothing asyncio server that
answers every NewOrderSingle with a fixed ack (what the loopback, the event loop and the
client cost by themselves on this machine, at this load).

``--pin shared|apart`` places the latency runs' client and server on one CPU or on two
(``none``, the default, lets the scheduler choose, as ``bench.venue`` does): on a small VM a
wake-up across CPUs costs tens of microseconds, so an unpinned latency figure is bimodal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any

from bench.venue import THROUGHPUT_ORDERS, latency_run, throughput_run
from bench.venue_process import venue_process
from mock_exchange.fix.codec import encode

LABELS = ("baseline", "current")


class Placement(StrEnum):
    NONE = "none"  # the scheduler decides
    SHARED = "shared"  # client and server on CPU 0
    APART = "apart"  # client on CPU 0, server on CPU 1


FLOOR_LOGON = encode([(35, b"A"), (98, b"0"), (108, b"30")])
FLOOR_ACK = encode([(35, b"8"), (150, b"0"), (39, b"0")])


def _extract(revision: str, directory: Path) -> Path:
    archive = directory / "baseline.tar"
    with archive.open("wb") as output:
        subprocess.run(["git", "archive", revision, "mock_exchange"], stdout=output, check=True)
    target = directory / "baseline"
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


def compare(revision: str, repeat: int, placement: Placement = Placement.NONE) -> list[dict[str, Any]]:
    rates: dict[str, list[float]] = {label: [] for label in LABELS}
    cpu_us: dict[str, list[float]] = {label: [] for label in LABELS}
    p50s: dict[str, list[float]] = {label: [] for label in LABELS}
    p99s: dict[str, list[float]] = {label: [] for label in LABELS}
    floor: tuple[list[float], list[float]] = ([], [])  # p50s, p99s
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gameday-bench-compare-") as directory:
        root = Path(directory)
        sources = {"baseline": _extract(revision, root), "current": None}
        for run in range(repeat):
            order = LABELS if run % 2 == 0 else LABELS[::-1]
            for label in order:
                with venue_process(root, sources[label]) as venue:
                    cpu_before = venue.cpu_seconds()
                    rates[label].append(throughput_run(venue.port, run))
                    cpu_us[label].append((venue.cpu_seconds() - cpu_before) / THROUGHPUT_ORDERS * 1e6)
                with venue_process(root, sources[label]) as venue, placed(placement, venue.pid):
                    latencies = sorted(latency_run(venue.port, run))
                p50s[label].append(_percentile(latencies, 0.5))
                p99s[label].append(_percentile(latencies, 0.99))
            with floor_process() as (port, pid), placed(placement, pid):
                latencies = sorted(latency_run(port, run))
            floor[0].append(_percentile(latencies, 0.5))
            floor[1].append(_percentile(latencies, 0.99))
    common = {
        "baseline": revision,
        "runs": repeat,
        "latency_placement": placement.value,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    return [
        _figure("NewOrderSingle -> ack over one FIX session (orders/s)", rates, common),
        _figure("venue CPU per order in that run (us; its 1-core limit is 1e6 / this)", cpu_us, common),
        _figure("ack latency p50 at 1,000 orders/s (us)", p50s, common),
        _figure("ack latency p99 at 1,000 orders/s (us)", p99s, common),
        {
            "figure": "the floor: ack latency of a do-nothing asyncio server, same client (us)",
            "p50_median": round(statistics.median(floor[0]), 1),
            "p99_median": round(statistics.median(floor[1]), 1),
            "p50_runs": [round(value, 1) for value in floor[0]],
            **common,
        },
    ]


def _percentile(ordered: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of ascending seconds, in microseconds."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] * 1e6


@contextlib.contextmanager
def placed(placement: Placement, server_pid: int) -> Iterator[None]:
    """This process (the client) and the server on the CPUs ``placement`` names, for the block."""
    if placement is Placement.NONE:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    os.sched_setaffinity(server_pid, {0 if placement is Placement.SHARED else 1})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextlib.contextmanager
def floor_process() -> Iterator[tuple[int, int]]:
    """A do-nothing FIX-shaped server in its own process (its port and pid); stopped after."""
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    server = context.Process(target=_serve_floor, args=(ports,), daemon=True)
    server.start()
    try:
        assert server.pid is not None
        yield ports.get(timeout=20), server.pid
    finally:
        server.terminate()
        server.join(timeout=10)


def _serve_floor(ports: multiprocessing.Queue[int]) -> None:
    asyncio.run(_floor(ports))


async def _floor(ports: multiprocessing.Queue[int]) -> None:
    server = await asyncio.get_running_loop().create_server(_FloorProtocol, "127.0.0.1", 0)
    ports.put(server.sockets[0].getsockname()[1])
    await server.serve_forever()


class _FloorProtocol(asyncio.Protocol):
    """Answers a Logon with a Logon and each NewOrderSingle with a fixed ack, nothing else."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if b"\x0135=A\x01" in data:
            self._transport.write(FLOOR_LOGON)
        self._transport.write(FLOOR_ACK * data.count(b"\x0135=D\x01"))


def _figure(name: str, values: dict[str, list[float]], common: dict[str, Any]) -> dict[str, Any]:
    medians = {label: statistics.median(values[label]) for label in LABELS}
    return {
        "figure": name,
        **{f"{label}_median": round(medians[label], 1) for label in LABELS},
        **{f"{label}_runs": [round(value, 1) for value in values[label]] for label in LABELS},
        "ratio_current_to_baseline": round(medians["current"] / medians["baseline"], 2),
        **common,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.venue_compare")
    parser.add_argument("revision", help="git revision of the baseline venue, e.g. HEAD~3")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--pin",
        type=Placement,
        choices=list(Placement),
        default=Placement.NONE,
        help="latency runs: client and server on one CPU (shared), on two (apart), or unpinned",
    )
    args = parser.parse_args()
    for figure in compare(args.revision, args.repeat, args.pin):
        print(json.dumps(figure), flush=True)


if __name__ == "__main__":
    main()
