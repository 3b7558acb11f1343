"""Time to verdict (issue 21): the wall of ``gameday run`` beyond its declared workload, where it
goes, and ``gameday validate`` of one file; each tree measured in the same turns (A/B).

``BENCH_VERDICT_VARIANTS="before=/tmp/before"`` adds a tree (a checkout's copy holding ``gameday``,
``trading_stack``, ``mock_exchange`` and ``reference_target`` as they were) beside this checkout
(``as is``); each turn runs every tree once, in turn. A run is ``gameday run`` of
:data:`SCENARIO` in a child process (its own interpreter: its imports count), timed from the spawn
to the verdict line on its stdout and to its exit; the run's history gives the phases (its clock is
the host's monotonic clock, the one this process reads):

- ``to start``: spawn → the run's ``start`` op (imports, the reaper, the stack's start);
- ``final capture``: the ``settled`` phase → the ledger snapshot (the venue's matching stopped,
  where the tree does it, and the bracket);
- ``database``: the snapshot → the ``database`` op;
- ``stop``: the ``database`` op → the ``end`` op (the stack stopped);
- ``to verdict``: the ``end`` op → the verdict line (grading, results.json, junit.xml, and in a
  tree that renders in this step, the readable reports);
- ``verdict to exit``: the rest (the readable reports, where they come after the verdict).

``validate``: ``gameday validate`` of the same file, wall and CPU (user + system) of the child.
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import machine

ROOT = Path(__file__).parents[1]
SCENARIO = ROOT / "scenarios" / "failover-primary-crash.yaml"
WORKLOAD_S = 20.0
VARIANTS_ENV = "BENCH_VERDICT_VARIANTS"
VERDICT_LINE = re.compile(rb"^(PASS|FAIL|UNKNOWN|ABORTED)\b")
VALIDATE_RUNS = 5


def _variants() -> dict[str, str]:
    """label -> tree: this checkout as ``as is``, then those of ``BENCH_VERDICT_VARIANTS``."""
    variants = {"as is": str(ROOT)}
    for item in filter(None, (part.strip() for part in os.environ.get(VARIANTS_ENV, "").split(","))):
        label, _, tree = item.partition("=")
        if not tree or label in variants:
            raise ValueError(f"{VARIANTS_ENV}: expected label=tree, got {item!r}")
        variants[label] = os.path.abspath(tree)
    return variants


def _gameday(tree: str, *args: str) -> tuple[list[str], dict[str, str]]:
    """``gameday ARGS`` importing ``tree`` (run from it: ``-c`` puts the working directory first on
    the path), its stdout unbuffered so the verdict line is seen when it is printed."""
    code = "import sys; from gameday.cli import main; sys.argv[0] = 'gameday'; main()"
    return [sys.executable, "-c", code, *args], {**os.environ, "PYTHONPATH": tree, "PYTHONUNBUFFERED": "1"}


def _ops(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "history.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _first_t(ops: list[dict[str, Any]], kind: str, f: str, phase: str | None = None) -> float:
    for op in ops:
        if op["kind"] == kind and op["f"] == f and (phase is None or op["value"].get("phase") == phase):
            return float(op["t_ns"]) / 1e9
    raise ValueError(f"no {kind} {f} {phase or ''} op in the run")


def _run_once(tree: str, reports: Path) -> dict[str, Any]:
    argv, env = _gameday(tree, "run", str(SCENARIO), "--reports", str(reports))
    spawned = time.monotonic()
    verdict_at = None
    verdict = "?"
    with subprocess.Popen(argv, env=env, cwd=tree, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL) as child:
        assert child.stdout is not None
        for line in child.stdout:
            matched = VERDICT_LINE.match(line)
            if matched and verdict_at is None:
                verdict_at, verdict = time.monotonic(), matched.group(1).decode()
        child.wait()
    exited = time.monotonic()
    run_dir = max((reports / SCENARIO.stem).iterdir(), key=lambda path: path.stat().st_mtime)
    ops = _ops(run_dir)
    start = _first_t(ops, "run", "start")
    settled = _first_t(ops, "run", "phase", "settled")
    snapshot = _first_t(ops, "ledger", "snapshot")
    database = _first_t(ops, "probe", "database")
    end = _first_t(ops, "run", "end")
    verdict_at = exited if verdict_at is None else verdict_at
    return {"verdict": verdict, "beyond workload": exited - spawned - WORKLOAD_S,
            "verdict beyond workload": verdict_at - spawned - WORKLOAD_S,
            "to start": start - spawned, "final capture": snapshot - settled, "database": database - snapshot,
            "stop": end - database, "to verdict": verdict_at - end, "verdict to exit": exited - verdict_at}


def _validate(tree: str) -> dict[str, float]:
    argv, env = _gameday(tree, "validate", str(SCENARIO))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(argv, env=env, cwd=tree, stdout=subprocess.DEVNULL, check=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return {"validate wall": wall, "validate cpu": cpu}


def _medians(samples: list[dict[str, Any]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for key in samples[0]:
        values = [sample[key] for sample in samples]
        if isinstance(values[0], str):
            figures[key] = values
        else:
            figures[key] = {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
                            "max": round(max(values), 3)}
    return figures


async def main(repeat: int) -> list[dict[str, Any]]:
    variants = _variants()
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in variants}
    validations: dict[str, list[dict[str, float]]] = {label: [] for label in variants}
    loads: list[float] = []
    with tempfile.TemporaryDirectory(prefix="gameday-bench-verdict-") as root:
        for turn in range(repeat):
            for label, tree in variants.items():
                loads.append(os.getloadavg()[0])
                runs[label].append(_run_once(tree, Path(root) / f"{turn}-{label.replace(' ', '_')}"))
                for _ in range(VALIDATE_RUNS):
                    validations[label].append(_validate(tree))
    load = {"median": round(statistics.median(loads), 2), "max": round(max(loads), 2)}
    host = {**machine(), "load_1m": load}
    return [{"figure": f"time to verdict, {label} (s)", "tree": variants[label], "runs": len(runs[label]),
             "scenario": SCENARIO.name, **_medians(runs[label]), **_medians(validations[label]),
             "goals": {"beyond workload": "<= 3 s", "validate wall": "<= 0.3 s"}, **host}
            for label in variants]
