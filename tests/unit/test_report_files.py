import json
import xml.etree.ElementTree as ET
from pathlib import Path

from gameday.report import JUNIT_XML, RESULTS_JSON, read_results_json, results_json, write_reports
from gameday.scenario import load_scenario
from gameday.verdict import RunResult, Verdict, grade_run
from tests.unit.history_builder import failover_history

SCENARIO = load_scenario(Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml")


def _failed_run() -> RunResult:
    return grade_run(SCENARIO, failover_history(old_primary_keeps_sending=True).ops)


def test_results_json_is_data_that_reads_back() -> None:
    result = _failed_run()

    text = results_json(result)
    data = json.loads(text)

    assert data["scenario"] == "failover-primary-crash"
    assert (data["run_id"], data["seed"], data["verdict"]) == ("run-42", 7, "fail")
    assert data["defects"] == ["no-fencing"]
    assert data["started_wall"].startswith("2026-01-01T00:00:")
    writers = next(case for case in data["expectations"] if case["name"] == "writers.concurrent_active")
    assert (writers["bound"], writers["observed"], writers["verdict"]) == ({"max": 1.0}, 2, "fail")
    assert writers["evidence"]["violations"][0]["superseded"] == "oms-primary"
    assert read_results_json(text) == result


def test_write_reports_writes_both_files(tmp_path: Path) -> None:
    paths = write_reports(_failed_run(), tmp_path / "run")

    assert paths.results_json == tmp_path / "run" / RESULTS_JSON
    assert json.loads(paths.results_json.read_text())["verdict"] == Verdict.FAIL
    assert ET.parse(paths.junit_xml).getroot().tag == "testsuites"
    assert paths.junit_xml.name == JUNIT_XML
