"""``gameday matrix --out DIR``: the matrix's own files go to DIR, so a one-row matrix leaves the
full one where it is; without it they go where they always did (``--reports``)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

import gameday.runner
from gameday.cli import _cmd_matrix, _parser
from gameday.runner import RunOutcome, RunSettings
from gameday.scenario import Scenario
from gameday.verdict import grade_run
from tests.unit.history_builder import failover_history

CRASH = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"
MATRIX_FILES = ("matrix.json", "matrix.md", "matrix.xml", "matrix.html")
FULL_MATRIX = '{"the full matrix": "of last night"}\n'


@pytest.fixture(autouse=True)
def _no_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each run reads as it should (the correct stack recovers, the defective one does not)."""
    async def run_scenario(scenario: Scenario, path: Path, settings: RunSettings, **_: object) -> RunOutcome:
        history = failover_history(recovered=not settings.extra_defects)
        run_dir = settings.reports_root / scenario.name / ("defect" if settings.extra_defects else "correct")
        return RunOutcome(result=grade_run(scenario, history.ops), run_dir=run_dir)

    monkeypatch.setattr(gameday.runner, "run_scenario", run_scenario)


def _matrix(*args: str) -> int:
    return _cmd_matrix(_parser().parse_args(["matrix", str(CRASH), *args]), Console(file=io.StringIO()))


def test_out_takes_the_matrix_files_and_leaves_the_full_matrix_alone(tmp_path: Path) -> None:
    reports, out = tmp_path / "reports", tmp_path / "one-row"
    reports.mkdir()
    (reports / "matrix.json").write_text(FULL_MATRIX)

    code = _matrix("--reports", str(reports), "--out", str(out))

    assert code == 0
    assert all((out / name).is_file() for name in MATRIX_FILES)
    assert [row["scenario"] for row in json.loads((out / "matrix.json").read_text())["rows"]] == [
        "failover-primary-crash"]
    assert (reports / "matrix.json").read_text() == FULL_MATRIX
    assert not any((reports / name).exists() for name in MATRIX_FILES[1:])


def test_without_out_the_matrix_files_go_to_the_reports_directory(tmp_path: Path) -> None:
    reports = tmp_path / "reports"

    code = _matrix("--reports", str(reports))

    assert code == 0
    assert all((reports / name).is_file() for name in MATRIX_FILES)
