"""The detection matrix, for real: every scenario shipped in scenarios/ runs against the correct
reference stack and against its known defect; each row must read pass / fail-for-the-named-reason.

This is the slowest test in the suite (two full game days per scenario) and the one the
product's claim rests on: a scenario that cannot fail proves nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.scenario import load_scenario
from tests.integration.processes import alive

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
PER_RUN_BUDGET_S = 90


def test_every_scenario_passes_correct_and_fails_for_its_named_reason_when_defective(tmp_path: Path) -> None:
    assert len(SCENARIOS) >= 10
    budget = PER_RUN_BUDGET_S * 2 * len(SCENARIOS)
    result = subprocess.run(
        [sys.executable, "-c", "from gameday.cli import main; main()", "matrix", "--reports", str(tmp_path),
         *map(str, SCENARIOS)],
        cwd=ROOT, capture_output=True, text=True, timeout=budget, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )

    matrix = json.loads((tmp_path / "matrix.json").read_text())
    not_as_expected = [(row["scenario"], [r["verdict"] for r in row["correct"]],
                        [r["failing"] for r in row["defect"]])
                       for row in matrix["rows"] if not row["as_expected"]]
    assert not_as_expected == [], result.stdout[-4000:]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert [row["scenario"] for row in matrix["rows"]] == [load_scenario(p).name for p in SCENARIOS]
    for row in matrix["rows"]:
        (correct,), (defect,) = row["correct"], row["defect"]
        assert correct["verdict"] == "pass"
        assert defect["verdict"] == "fail"
        assert set(row["must_fail"]) <= set(defect["failing"])
    assert (tmp_path / "matrix.md").read_text().count("| as expected |") == len(SCENARIOS)
    assert _processes_mentioning(tmp_path) == []


def _processes_mentioning(path: Path) -> list[str]:
    """Live processes whose command line names a file under ``path`` (every service of a run does)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in argv and alive(int(proc.name)):
            found.append(f"{proc.name}: {argv}")
    return found
