"""One game day repeated with and without CPU burners beside it: does a busy machine move the RTO or
flip a verdict? Prints, per stress level, the median RTO, pass/fail/unknown counts, how many runs
were starved and the worst harness loop lag (``python -m bench stress-matrix --repeat N``).

Stress levels: none, then one burner per core (``gameday matrix --stress cores``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from bench.machine import machine
from gameday.runner import RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.stress import Burners
from gameday.verdict import RunResult

SCENARIO = Path(__file__).parents[1] / "scenarios" / "failover-primary-crash.yaml"
RTO = "rto.failover"


def _rto(result: RunResult) -> float | None:
    rto = next((e for e in result.expectations if e.name == RTO), None)
    return None if rto is None or rto.observed is None else float(rto.observed)


def _figure(stress: int, results: list[RunResult]) -> dict[str, Any]:
    rtos = [rto for rto in map(_rto, results) if rto is not None]
    verdicts = Counter(result.verdict.value for result in results)
    starvation = [result.starvation for result in results if result.starvation is not None]
    lags = [s.harness_loop_lag.p99_ms for s in starvation if s.harness_loop_lag is not None]
    loads = [s.load_average.max_1m for s in starvation if s.load_average is not None]
    return {
        "figure": f"{SCENARIO.stem} beside {stress} CPU burner(s)", "stress": stress, "runs": len(results),
        "rto_median_s": round(statistics.median(rtos), 3) if rtos else None,
        "rto_min_s": round(min(rtos), 3) if rtos else None,
        "rto_max_s": round(max(rtos), 3) if rtos else None,
        "pass": verdicts["pass"], "fail": verdicts["fail"], "unknown": verdicts["unknown"],
        "starved": sum(s.starved for s in starvation),
        "harness_loop_lag_p99_ms_max": max(lags) if lags else None,
        "load_average_max": max(loads) if loads else None,
    }


async def _runs(stress: int, repeat: int, root: Path) -> list[RunResult]:
    scenario = load_scenario(SCENARIO)
    settings = RunSettings(reports_root=root, stress=stress)
    results = []
    async with Burners(stress, root):
        for _ in range(repeat):
            outcome = await run_scenario(scenario, SCENARIO, settings)
            results.append(outcome.result)
    return results


async def main(repeat: int, levels: tuple[int, ...] | None = None) -> list[dict[str, Any]]:
    host = machine()
    figures = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-stress-") as root:
        for stress in levels if levels is not None else (0, os.cpu_count() or 1):
            figures.append({**_figure(stress, await _runs(stress, repeat, Path(root))), **host})
    return figures


if __name__ == "__main__":  # python -m bench.stress_matrix --repeat 1 --levels 0 2
    parser = argparse.ArgumentParser(prog="python -m bench.stress_matrix")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--levels", type=int, nargs="+", default=None)
    args = parser.parse_args()
    for figure in asyncio.run(main(args.repeat, tuple(args.levels) if args.levels else None)):
        print(json.dumps({"bench": "stress-matrix", **figure}), flush=True)
