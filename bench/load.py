"""Locust load beside a game day: the requests per second it drives against the OMS on this machine,
and what it costs beside the seeded workload (issue "Load from locustfiles during a game day").

Three variants of one fault-free game day on the embedded stack (20 orders/s seeded workload over
16 s), each ``repeat`` times:

- ``none``: no ``load:`` (the baseline);
- ``default``: ``loads/oms_http.py`` as shipped, 20 users waiting 0.1-0.5 s between requests;
- ``flat-out``: the same users with no wait, the most this machine's OMS answers them.

Figures: locust's requests per second (median over the load's whole seconds) and p99; the
harness process's CPU seconds (``getrusage``, the bench process is the harness) and the load
child's (its own ``cpu_s``, in its ``stop`` record), each per second of workload.
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from bench.machine import machine
from gameday.history import OpKind, read_history
from gameday.runner import HISTORY_FILE, RunSettings, run_scenario
from gameday.scenario import load_scenario

LOADS = Path(__file__).parents[1] / "loads"
DURATION_S = 16
SCENARIO = """\
name: load-bench
description: a fault-free game day with and without locust load
seed: 9
stack: {{preset: active-passive}}
workload: {{orders_per_second: 20, symbols: [BTC-USD, ETH-USD], duration: {duration}s}}
{load}
expect:
  trading.available_at_end: 1
"""
FLAT_OUT = '''\
"""loads/oms_http.py's users without a pause between requests."""
import sys

sys.path.insert(0, {loads!r})
import oms_http  # noqa: E402
from locust import constant  # noqa: E402


class FlatOut(oms_http.OmsTrader):
    wait_time = constant(0)
'''


def _scenario(root: Path, variant: str) -> Path:
    load = ""
    if variant != "none":
        locustfile = LOADS / "oms_http.py"
        if variant == "flat-out":
            locustfile = root / "flat_out.py"
            locustfile.write_text(FLAT_OUT.format(loads=str(LOADS)))
        load = textwrap.dedent(f"""\
            load:
              locustfile: {locustfile}
              users: 20
              spawn_rate: 20
            """)
    path = root / f"{variant}.yaml"
    path.write_text(SCENARIO.format(duration=DURATION_S, load=load))
    return path


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _run(path: Path, reports: Path) -> dict[str, Any]:
    before = _cpu_s()
    outcome = await run_scenario(load_scenario(path), path, RunSettings(reports_root=reports))
    harness_cpu_s = _cpu_s() - before
    result = outcome.result
    load = [op for op in read_history(outcome.run_dir / HISTORY_FILE) if op.kind == OpKind.LOAD]
    seconds = [op.value for op in load if op.f == "stats" and op.value.get("users")]
    stop = next((op.value for op in load if op.f == "stop"), {})
    return {"verdict": result.verdict.value, "harness_cpu_s": harness_cpu_s,
            "rps": statistics.median(second["requests"] for second in seconds) if seconds else 0,
            "p99_ms": stop.get("p99_ms"), "failures": stop.get("failures"), "child_cpu_s": stop.get("cpu_s")}


def _load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


async def main(repeat: int) -> list[dict[str, Any]]:
    figures: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-load-") as tmp:
        root = Path(tmp)
        runs: dict[str, list[dict[str, Any]]] = {"none": [], "default": [], "flat-out": []}
        loads: list[float] = []
        for _ in range(repeat):  # interleaved, so the machine's noise falls on every variant alike
            for variant in runs:
                loads.append(_load_average())
                runs[variant].append(await _run(_scenario(root, variant), root / "reports"))
    host = {**machine(), "load_average_max": max(loads), "load_average_median": statistics.median(loads)}
    for variant, found in runs.items():
        harness_cpu_s = statistics.median(run["harness_cpu_s"] for run in found)
        figure: dict[str, Any] = {
            "figure": f"load {variant}", "runs": len(found), "verdicts": [run["verdict"] for run in found],
            "harness_cpu_per_workload_s": round(harness_cpu_s / DURATION_S, 3)}
        if variant != "none":
            figure.update({
                "rps_median": statistics.median(run["rps"] for run in found),
                "rps_each": [run["rps"] for run in found],
                "p99_ms_each": [run["p99_ms"] for run in found],
                "failures_each": [run["failures"] for run in found],
                "child_cpu_per_workload_s": round(statistics.median(
                    run["child_cpu_s"] or 0 for run in found) / DURATION_S, 3)})
        figures.append({**figure, **host})
    return figures
