"""The embedded and compose backends side by side, in one sitting, alternating: the stack's cold
start to healthy (compose: ``up --wait`` plus the harness's readiness wait, images built) and the
primary-crash RTO. ``python -m bench backends --repeat 5`` (needs a Docker engine:
compose/engine.sh up)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import machine
from gameday.history import OpKind, read_history
from gameday.runner import HISTORY_FILE, RunSettings, run_scenario
from gameday.scenario import load_scenario

SCENARIO = Path(__file__).parents[1] / "scenarios" / "failover-primary-crash.yaml"
BACKENDS = ("embedded", "compose")


def _started_in_s(run_dir: Path) -> float:
    ops = read_history(run_dir / HISTORY_FILE)
    start = next(op for op in ops if op.kind == OpKind.RUN and op.f == "start")
    return float(start.value["started_in_s"])


async def main(repeat: int) -> list[dict[str, Any]]:
    scenario = load_scenario(SCENARIO)
    starts: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
    rtos: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
    walls: dict[str, list[float]] = {backend: [] for backend in BACKENDS}
    verdicts: dict[str, list[str]] = {backend: [] for backend in BACKENDS}
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as root:
        for _ in range(repeat):
            for backend in BACKENDS:  # alternating: both see the same machine
                began = time.monotonic()
                settings = RunSettings(reports_root=Path(root), backend=backend)
                outcome = await run_scenario(scenario, SCENARIO, settings)
                walls[backend].append(time.monotonic() - began)
                verdicts[backend].append(outcome.result.verdict.value)
                starts[backend].append(_started_in_s(outcome.run_dir))
                rto = next(e for e in outcome.result.expectations if e.name == "rto.failover")
                if rto.observed is not None:
                    rtos[backend].append(float(rto.observed))
    host = machine()
    figures: list[dict[str, Any]] = []
    for backend in BACKENDS:
        for figure, values in ((f"{backend}: stack start to healthy (s)", starts[backend]),
                               (f"{backend}: failover RTO, SIGKILL primary (s)", rtos[backend]),
                               (f"{backend}: whole run wall time, 20 s workload (s)", walls[backend])):
            figures.append({"figure": figure, "median": round(statistics.median(values), 3),
                            "min": round(min(values), 3), "max": round(max(values), 3), "runs": len(values),
                            "verdicts": verdicts[backend], **host})
    return figures
