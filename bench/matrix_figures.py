"""The figures BENCHMARKS.md gives for a finished matrix: ``python -m bench.matrix_figures DIR [DIR ...]``.

Reads each ``DIR/matrix.json`` (written by ``gameday matrix --reports DIR``) and prints one JSON line
per matrix: rows as expected, the stress level and load average, the median RTO of the correct runs
per failover row, and the reference OMS's event-loop lag over the correct runs of the rows that
fail over (the median of every instance's published p99, and each row's worst max).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any


def _rto(run: dict[str, Any]) -> float | None:
    value = run.get("observed", {}).get("rto.failover")
    return float(value) if isinstance(value, int | float) else None


def _sut_lag(run: dict[str, Any]) -> list[dict[str, Any]]:
    starvation = run.get("starvation") or {}
    return list(starvation.get("sut_loop_lag") or [])


def summarize(matrix: dict[str, Any]) -> dict[str, Any]:
    rows = matrix["rows"]
    rtos: dict[str, float] = {}
    lag_p99: list[float] = []
    worst_by_row: dict[str, float] = {}
    for row in rows:
        found = [rto for rto in map(_rto, row["correct"]) if rto is not None]
        if found:
            rtos[row["scenario"]] = round(statistics.median(found), 2)
            for run in row["correct"]:
                for instance in _sut_lag(run):
                    lag_p99.append(float(instance.get("p99_ms", 0.0)))
                    worst = max(worst_by_row.get(row["scenario"], 0.0), float(instance.get("max_ms", 0.0)))
                    worst_by_row[row["scenario"]] = round(worst, 1)
    return {
        "rows": len(rows),
        "rows_as_expected": sum(1 for row in rows if row.get("as_expected")),
        "repeats": matrix.get("repeats"),
        "stress": matrix.get("stress"),
        "load_average": matrix.get("load_average"),
        "starved_runs": matrix.get("starved_runs"),
        "median_rto_s": rtos,
        "oms_loop_lag_failover_runs_ms": {
            "median_p99": round(statistics.median(lag_p99), 1) if lag_p99 else None,
            "worst_max_by_row": worst_by_row,  # a SIGSTOPped instance shows its stop here
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.matrix_figures")
    parser.add_argument("dirs", nargs="+", type=Path, help="report directories of finished matrices")
    for directory in parser.parse_args().dirs:
        matrix = json.loads((directory / "matrix.json").read_text())
        print(json.dumps({"matrix": str(directory), **summarize(matrix)}))


if __name__ == "__main__":
    main()
