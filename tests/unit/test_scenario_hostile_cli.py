"""``gameday validate`` on each hostile file (issue 15): exit 2, one line naming the file and what is
wrong, no traceback, no raw control character, within a time bound."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_scenario_hostile import HOSTILE_TEXTS, Hostile, hostile_files

CLI_TIMEOUT_S = 30
"""Each run refuses its file in well under a second; the rest is the interpreter starting."""
CASES = ["billion-laughs", "too-many-aliases", "recursive-list", "deep-flow", "seed-4301-digits",
         "sexagesimal-giant", "impossible-date", "infinite-duration", "pause-999999h",
         "pause-past-the-workload", "infinite-rate", "astronomical-rate", "repeats-beyond-10000", "raw-nul",
         "escaped-control-characters", "control-characters-in-a-key", "a-huge-value"]


def _validate(path: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COLUMNS": "100000"}  # one message, one line: no wrapping by rich
    command = [sys.executable, "-c", "from gameday.cli import main; main()", "validate", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=environment)


def _assert_one_clear_line(result: subprocess.CompletedProcess[str], path: Path, says: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    [line] = output.splitlines()
    assert line.startswith(f"invalid scenario {path}")
    assert says in line
    assert line.isprintable()


@pytest.mark.timeout(4 * CLI_TIMEOUT_S)
@pytest.mark.parametrize("case", [case for case in HOSTILE_TEXTS if case.name in CASES],
                         ids=lambda case: case.name)
def test_validate_refuses_a_hostile_text_in_one_clear_line(tmp_path: Path, case: Hostile) -> None:
    path = tmp_path / f"{case.name}.yaml"
    path.write_text(case.text)

    _assert_one_clear_line(_validate(path), path, case.says)


@pytest.mark.timeout(10 * CLI_TIMEOUT_S)
def test_validate_refuses_each_hostile_file_in_one_clear_line_and_never_blocks(tmp_path: Path) -> None:
    made = hostile_files(tmp_path)
    assert {name for name, _, _ in made} >= {"fifo", "dev-zero", "symlink-to-dev-zero", "100000-faults"}
    for _, path, says in made:
        _assert_one_clear_line(_validate(path), path, says)


def test_every_chosen_case_exists() -> None:
    assert set(CASES) <= {case.name for case in HOSTILE_TEXTS}
