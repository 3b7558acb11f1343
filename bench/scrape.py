"""The metrics probe's cost (issue 19): harness CPU and event-loop time per scrape, at the default probe
interval (250 ms), over four loopback exporters serving an OMS-sized exposition, in a child process.

``python -m bench scrape --repeat 3``: per run of ``DURATION_S``, the harness's CPU seconds (this
process: the probe, the parser, the history file) as a share of one core, CPU per tick, each scrape's
round trip (p50/p99, as recorded), the history's bytes per tick, and ``tick_late_ms_max``: the most a
tick came later than its grid point (what a slow scrape delays). ``families`` says what was parsed:
the default set only, or the default set plus a scenario's (histograms, counters).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from gameday.history import History, OpKind
from gameday.metrics.scraper import metrics_probe
from gameday.scenario.model import ProbeSpec

DURATION_S = 10.0
TARGETS = ("oms-primary", "oms-dr", "failover", "exchange")
SCENARIO_FAMILIES = ("oms_order_latency_seconds", "oms_orders_total", "oms_rejects_total", "oms_position",
                     "oms_risk_limit_utilisation")


def exposition(tick: int) -> str:
    """An OMS's exposition: the contract's families, two latency histograms, 20 symbols, runtime metrics."""
    lines = [f"oms_up 1\noms_active 1\noms_open_orders {tick % 50}\noms_store_backlog {tick % 7}",
             f"oms_events_backlog 0\noms_exposure_notional_total {1e6 + tick}\noms_realized_pnl {tick * 3.5}",
             "oms_unrealized_pnl -12.5\noms_breaker_tripped 0\noms_kill_switch_engaged 0",
             "oms_loop_lag_seconds 0.002"]
    for stage in ("ack", "fill"):
        for le in ("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
                   "+Inf"):
            lines.append(f'oms_order_latency_seconds_bucket{{stage="{stage}",le="{le}"}} {tick * 10}')
        lines.append(f'oms_order_latency_seconds_count{{stage="{stage}"}} {tick * 10}')
        lines.append(f'oms_order_latency_seconds_sum{{stage="{stage}"}} {tick * 0.03}')
    for outcome in ("ok", "rejected", "failed"):
        lines.append(f'oms_orders_total{{outcome="{outcome}"}} {tick}')
    for symbol in range(20):
        lines.append(f'oms_position{{symbol="S{symbol}-USD"}} {symbol}')
        lines.append(f'oms_exposure_notional{{symbol="S{symbol}-USD"}} {symbol * 1000}')
        lines.append(f'oms_feed_age_seconds{{feed="f{symbol % 2}"}} 0.1')
    for generation in range(3):
        lines.append(f'python_gc_objects_collected_total{{generation="{generation}"}} {tick * 100}')
    lines += ["process_cpu_seconds_total 12.5", "process_resident_memory_bytes 1.2e8", "process_open_fds 42"]
    return "\n".join(lines) + "\n"


async def serve() -> None:
    """The exporters (``--serve``): one port per target, printed on one line, until stdin closes."""
    from aiohttp import web

    ticks = 0

    async def metrics(request: web.Request) -> web.Response:
        nonlocal ticks
        ticks += 1
        return web.Response(text=exposition(ticks), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for _ in TARGETS:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(" ".join(str(address[1]) for address in runner.addresses), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


async def _once(targets: dict[str, str], families: tuple[str, ...], history_path: Path) -> dict[str, Any]:
    interval_s = ProbeSpec().health_interval.seconds
    history = History(history_path)
    ticks: list[float] = []

    def timed(op: Any) -> None:
        ticks.append(time.monotonic())

    history.subscribe(timed)
    async with aiohttp.ClientSession() as session:
        cpu, wall = time.process_time(), time.monotonic()
        probe = asyncio.create_task(metrics_probe(session, targets, history, interval_s, families))
        await asyncio.sleep(DURATION_S)  # the measured span itself, not a readiness wait
        probe.cancel()
        await asyncio.gather(probe, return_exceptions=True)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    history.close()
    scraped = [op for op in history.ops if op.kind == OpKind.METRICS]
    rtts = sorted(target["ms"] for op in scraped for target in op.value["targets"].values() if target["ok"])
    return {"families": "default+scenario" if families else "default", "interval_s": interval_s,
            "ticks": len(scraped), "cpu_share_of_one_core": round(cpu / wall, 4),
            "cpu_ms_per_tick": round(cpu * 1000 / max(len(scraped), 1), 2),
            "scrape_ms_p50": rtts[len(rtts) // 2], "scrape_ms_p99": rtts[int(len(rtts) * 0.99) - 1],
            "history_bytes_per_tick": round(history_path.stat().st_size / max(len(scraped), 1)),
            "tick_late_ms_max": round(max((later - earlier - interval_s) * 1000
                                          for earlier, later in itertools.pairwise(ticks)), 1),
            "samples_per_tick": round(statistics.mean(sum(len(target.get("samples", ()))
                                                          for target in op.value["targets"].values())
                                                      for op in scraped))}


async def main(repeat: int) -> list[dict[str, Any]]:
    child = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.scrape", "--serve",
                                                 stdin=asyncio.subprocess.PIPE,
                                                 stdout=asyncio.subprocess.PIPE)
    try:
        assert child.stdout is not None
        ports = (await asyncio.wait_for(child.stdout.readline(), 10)).decode().split()
        targets = {name: f"http://127.0.0.1:{port}/metrics"
                   for name, port in zip(TARGETS, ports, strict=True)}
        figures = []
        with tempfile.TemporaryDirectory() as scratch:
            for run in range(repeat):
                for families in ((), SCENARIO_FAMILIES):
                    history_path = Path(scratch) / f"{run}-{len(families)}.jsonl"
                    figures.append({"run": run, **await _once(targets, families, history_path)})
        return figures
    finally:
        if child.stdin is not None:
            child.stdin.close()
        await child.wait()


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        asyncio.run(serve())
