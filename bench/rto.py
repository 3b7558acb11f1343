"""The first game day, repeated: failover RTO (median of N, next to seed 002's same-region budget
of 5-8 s) and the run's wall time beyond its declared workload duration (goal <= 5 s)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import machine
from gameday.runner import RunSettings, run_scenario
from gameday.scenario import load_scenario

SCENARIO = Path(__file__).parents[1] / "scenarios" / "failover-primary-crash.yaml"


async def main(repeat: int) -> list[dict[str, Any]]:
    scenario = load_scenario(SCENARIO)
    rtos: list[float] = []
    overheads: list[float] = []
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as root:
        settings = RunSettings(reports_root=Path(root))
        for _ in range(repeat):
            started = time.monotonic()
            outcome = await run_scenario(scenario, SCENARIO, settings)
            overheads.append(time.monotonic() - started - scenario.workload.duration.seconds)
            verdicts.append(outcome.result.verdict.value)
            rto = next(e for e in outcome.result.expectations if e.name == "rto.failover")
            if rto.observed is not None:
                rtos.append(float(rto.observed))
    host = machine()
    return [
        {"figure": "failover RTO, SIGKILL primary (s)", "median": round(statistics.median(rtos), 3),
         "min": round(min(rtos), 3), "max": round(max(rtos), 3), "runs": len(rtos),
         "reference": "seed 002 same-region budget 5-8 s", "verdicts": verdicts, **host},
        {"figure": "scenario wall time minus declared duration (s)",
         "median": round(statistics.median(overheads), 3), "min": round(min(overheads), 3),
         "max": round(max(overheads), 3), "runs": len(overheads), "goal": "<= 5 s", **host},
    ]
