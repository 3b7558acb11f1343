"""``gameday analyze``: in place by default; ``--scenario FILE`` grades into a directory of its own
and never touches the run's own results."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from gameday.analyze import REGRADED_DIR, ScenarioFile, regrade_run
from gameday.runner import HISTORY_FILE, SCENARIO_FILE
from gameday.scenario import load_scenario
from tests.unit.history_builder import failover_history

CRASH = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"
OWN_RESULTS = '{"the run\'s own": "results"}\n'
NOW = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)


def _run_dir(tmp_path: Path) -> Path:
    """A stored run that passed: its scenario, its history and (a stand-in for) its own results."""
    run_dir = tmp_path / "reports" / "failover-primary-crash" / "run-42"
    run_dir.mkdir(parents=True)
    (run_dir / SCENARIO_FILE).write_text(CRASH.read_text())
    (run_dir / HISTORY_FILE).write_text("".join(op.model_dump_json() + "\n" for op in failover_history().ops))
    (run_dir / "results.json").write_text(OWN_RESULTS)
    (run_dir / "junit.xml").write_text("<own/>\n")
    return run_dir


def _tighter(tmp_path: Path) -> Path:
    """The scenario with an RTO bound the run (3 s to recover) does not meet."""
    text = CRASH.read_text()
    assert "rto.failover: {max: 10s}" in text
    path = tmp_path / "tight-rto.yaml"
    path.write_text(text.replace("rto.failover: {max: 10s}", "rto.failover: {max: 1s}"))
    return path


def _gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from gameday.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=120)


def _words(text: str) -> str:
    """The output without the console's line wrapping."""
    return " ".join(text.split())


def test_a_regrade_with_new_bounds_goes_into_its_own_directory(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    tight = _tighter(tmp_path)

    regraded = regrade_run(run_dir, ScenarioFile(tight, load_scenario(tight)), now=NOW)

    assert regraded.directory == run_dir / REGRADED_DIR / "tight-rto-20260203T040506Z"
    rto = next(e for e in regraded.result.expectations if e.name == "rto.failover")
    assert (rto.verdict, rto.bound_text, regraded.result.exit_code) == ("fail", "max 1s", 1)
    assert json.loads((regraded.directory / "results.json").read_text())["verdict"] == "fail"
    assert ET.parse(regraded.directory / "junit.xml").getroot().attrib["failures"] == "1"
    assert (regraded.directory / SCENARIO_FILE).read_text() == tight.read_text()
    assert (regraded.directory / "summary.md").is_file()
    assert regraded.readable_error is None
    assert (run_dir / "results.json").read_text() == OWN_RESULTS
    assert (run_dir / "junit.xml").read_text() == "<own/>\n"


def test_two_regrades_in_the_same_second_do_not_overwrite_each_other(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    tight = ScenarioFile(_tighter(tmp_path), load_scenario(_tighter(tmp_path)))

    first = regrade_run(run_dir, tight, now=NOW).directory
    second = regrade_run(run_dir, tight, now=NOW).directory

    assert first != second
    assert second.name == f"{first.name}-2"
    assert (first / "results.json").is_file()
    assert (second / "results.json").is_file()


def test_the_command_says_where_it_wrote_and_exits_with_the_new_verdict(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)

    result = _gameday("analyze", str(run_dir), "--scenario", str(_tighter(tmp_path)))

    [written] = (run_dir / REGRADED_DIR).iterdir()
    assert result.returncode == 1, result.stdout + result.stderr
    assert str(written) in "".join(result.stdout.split())
    assert "the run's own results are unchanged" in _words(result.stdout)
    assert (run_dir / "results.json").read_text() == OWN_RESULTS


def test_a_malformed_scenario_file_is_refused_as_validate_refuses_it(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(CRASH.read_text().replace("{at: 8s, fault: kill", "{at: soon, fault: kill"))

    analyzed = _gameday("analyze", str(run_dir), "--scenario", str(bad))
    validated = _gameday("validate", str(bad))

    assert analyzed.returncode == validated.returncode == 2
    assert "Traceback" not in analyzed.stdout + analyzed.stderr
    assert "timeline[0].at" in analyzed.stdout
    assert analyzed.stdout == validated.stdout
    assert not (run_dir / REGRADED_DIR).exists()


def test_a_directory_without_a_history_is_bad_input(tmp_path: Path) -> None:
    result = _gameday("analyze", str(tmp_path))

    assert result.returncode == 2
    assert "no history.jsonl" in _words(result.stdout)
    assert "Traceback" not in result.stdout + result.stderr


def test_without_a_scenario_file_the_run_is_regraded_in_place(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)

    result = _gameday("analyze", str(run_dir))

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((run_dir / "results.json").read_text())["verdict"] == "pass"
    assert not (run_dir / REGRADED_DIR).exists()
