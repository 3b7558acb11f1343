"""Stack cold start to all-healthy (goal ≤ 1.5 s on a 2-core machine, issue 21), with the Python
services forked by the launcher and exec'ed (``GAMEDAY_LAUNCHER=off``), alternating in one sitting.

Besides the start, at the moment the stack is healthy: the CPU seconds each Python service has used
(exec'ed: its imports and start; forked: its start, its imports being the launcher's), the launcher's
own, and the memory of every process of the stack (RSS summed, PSS and USS from smaps).
"""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

import psutil

from bench.machine import machine
from gameday.stack.launcher import LAUNCHER_ENV
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from reference_target.local import LocalStack

VARIANTS = {"launcher": None, "exec": "off"}
"""Each variant's value of ``GAMEDAY_LAUNCHER`` (None: unset, the default)."""


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _python_cpu(stack: LocalStack) -> dict[str, float]:
    """CPU seconds by Python service, and the launcher's (the parent of a forked one)."""
    used: dict[str, float] = {}
    for name, managed in stack.processes.items():
        if list(managed.spec.argv[1:2]) != ["-m"]:
            continue
        try:
            process = psutil.Process(managed.pid)
            used[name] = _cpu_s(process)
            parent = process.parent()
            if parent is not None and parent.pid != os.getpid():
                used["(launcher)"] = _cpu_s(parent)
        except psutil.Error:
            continue
    return used


def _memory_mb() -> dict[str, float]:
    """RSS, PSS and USS summed over every process this benchmark started (the stack's), in MB."""
    totals = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
    for process in psutil.Process().children(recursive=True):
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        for key in totals:
            totals[key] += getattr(info, key) / 2**20
    totals["processes"] = float(len(psutil.Process().children(recursive=True)))
    return totals


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


Sample = tuple[float, dict[str, float], dict[str, float]]
"""Seconds to healthy, CPU seconds by Python service, memory of the stack."""


async def _start(root: Path, cache: Path, seed: int, variant: str) -> Sample:
    setting = VARIANTS[variant]
    if setting is None:
        os.environ.pop(LAUNCHER_ENV, None)
    else:
        os.environ[LAUNCHER_ENV] = setting
    try:
        run = RunDir(root, "bench-cold-start")
        async with LocalStack(StackSettings(run_dir=run, seed=seed, cache_dir=cache)) as stack:
            assert stack.started_in_s is not None
            return stack.started_in_s, _python_cpu(stack), _memory_mb()
    finally:
        os.environ.pop(LAUNCHER_ENV, None)


async def main(repeat: int) -> list[dict[str, Any]]:
    seconds: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    cpu: dict[str, dict[str, list[float]]] = {variant: {} for variant in VARIANTS}
    memory: dict[str, dict[str, list[float]]] = {variant: {} for variant in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="gameday-bench-") as root:
        cache = Path(root) / ".cache"
        # the first start builds the Postgres template; it is reported apart, not in the medians
        first, _, _ = await _start(Path(root), cache, 0, "launcher")
        for attempt in range(1, repeat + 1):
            for variant in VARIANTS:  # alternating: both see the same machine
                started_in_s, used, held = await _start(Path(root), cache, attempt, variant)
                seconds[variant].append(started_in_s)
                for name, value in {**used, "(all Python)": sum(used.values())}.items():
                    cpu[variant].setdefault(name, []).append(value)
                for key, value in held.items():
                    memory[variant].setdefault(key, []).append(value)
    host = machine()
    figures: list[dict[str, Any]] = [
        {"figure": "first start, Postgres template built (s)", "value": round(first, 3), **host}]
    for variant in VARIANTS:
        figures += [
            {"figure": f"{variant}: stack cold start to all-healthy (s)", **_summary(seconds[variant]),
             "runs": len(seconds[variant]), "goal": "<= 1.5 s", **host},
            {"figure": f"{variant}: CPU s of each Python service at healthy (median)",
             **_medians(cpu[variant], 3)},
            {"figure": f"{variant}: memory of the stack at healthy, MB (median)",
             **_medians(memory[variant], 1)},
        ]
    ratio = statistics.median(seconds["launcher"]) / statistics.median(seconds["exec"])
    return [*figures, {"figure": "start to healthy, launcher / exec (ratio of medians)",
                       "value": round(ratio, 2)}]


def _medians(samples: dict[str, list[float]], digits: int) -> dict[str, float]:
    return {name: round(statistics.median(values), digits) for name, values in sorted(samples.items())}
