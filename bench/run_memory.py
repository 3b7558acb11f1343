"""Peak memory of a whole game day (issue 21: ≤ 450 MB), the Python services forked by the launcher
and exec'ed (``GAMEDAY_LAUNCHER=off``), alternating: ``python -m bench.run_memory --repeat 3``.

Every 0.5 s, the harness and every process it started: RSS summed (a page shared by N processes
counts N times), PSS (a shared page counts 1/N in each: the sum is what the run holds) and USS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
from pathlib import Path
from typing import Any

import psutil

from bench.machine import machine
from gameday.runner import RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.stack.launcher import LAUNCHER_ENV

SCENARIO = Path(__file__).parents[1] / "scenarios" / "failover-primary-crash.yaml"
VARIANTS = {"launcher": None, "exec": "off"}
KEYS = ("rss", "pss", "uss")


class PeakSampler:
    """The largest sums seen over this process and its descendants, sampled in a thread."""

    def __init__(self, interval_s: float = 0.5) -> None:
        self.peak = dict.fromkeys((*KEYS, "processes"), 0.0)
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            harness = psutil.Process()
            totals = dict.fromkeys(KEYS, 0.0)
            processes = [harness, *harness.children(recursive=True)]
            for process in processes:
                try:
                    info = process.memory_full_info()
                except psutil.Error:
                    continue
                for key in KEYS:
                    totals[key] += getattr(info, key) / 2**20
            for key in KEYS:
                self.peak[key] = max(self.peak[key], totals[key])
            self.peak["processes"] = max(self.peak["processes"], float(len(processes)))


async def main(repeat: int) -> list[dict[str, Any]]:
    scenario = load_scenario(SCENARIO)
    peaks: dict[str, dict[str, list[float]]] = {variant: {} for variant in VARIANTS}
    verdicts: dict[str, list[str]] = {variant: [] for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as root:
        for _ in range(repeat):
            for variant, setting in VARIANTS.items():  # alternating: both see the same machine
                if setting is None:
                    os.environ.pop(LAUNCHER_ENV, None)
                else:
                    os.environ[LAUNCHER_ENV] = setting
                try:
                    with PeakSampler() as sampler:
                        outcome = await run_scenario(scenario, SCENARIO, RunSettings(reports_root=Path(root)))
                finally:
                    os.environ.pop(LAUNCHER_ENV, None)
                verdicts[variant].append(outcome.result.verdict.value)
                for key, value in sampler.peak.items():
                    peaks[variant].setdefault(key, []).append(value)
    host = machine()
    return [{"figure": f"{variant}: peak memory of a game day, MB (median of peaks)",
             **{key: round(statistics.median(values), 1) for key, values in peaks[variant].items()},
             "runs": repeat, "verdicts": verdicts[variant], **host} for variant in VARIANTS]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.run_memory")
    parser.add_argument("--repeat", type=int, default=3)
    for figure in asyncio.run(main(parser.parse_args().repeat)):
        print(json.dumps({"bench": "run-memory", **figure}), flush=True)
