"""Every JUnit document gameday writes has the common JUnit shape (Jenkins' junit-10.xsd):
testsuites > testsuite > testcase, a ``time`` on each, a suite's ``hostname`` and ``timestamp`` in
the schema's format, and totals that add up."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gameday.history import Op
from gameday.matrix import Matrix, RunRequest, Variant, run_matrix
from gameday.report import junit_xml, results_json
from gameday.report.junit import junit_timestamp
from gameday.report.matrix_junit import matrix_junit_xml
from gameday.scenario import load_scenario
from gameday.verdict import RunResult, RunStatus, grade_run, interrupted_run
from tests.unit.history_builder import failover_history

CRASH = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"
SCENARIO = load_scenario(CRASH)

ATTRIBUTES = {  # what junit-10.xsd allows on each element
    "testsuites": {"name", "time", "tests", "failures", "errors", "disabled"},
    "testsuite": {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname",
                  "id", "package", "file", "log", "url"},
    "testcase": {"name", "time", "classname", "group"},
    "properties": set(),
    "property": {"name", "value"},
    "failure": {"type", "message"},
    "error": {"type", "message"},
    "skipped": {"type", "message"},
    "system-out": set(),
    "system-err": set(),
}
CHILDREN = {
    "testsuites": {"testsuite"},
    "testsuite": {"testsuite", "properties", "testcase", "system-out", "system-err"},
    "testcase": {"skipped", "error", "failure", "system-out", "system-err"},
    "properties": {"property"},
}
REQUIRED = {  # the schema's, and what this project promises on top (time, timestamp, hostname)
    "testsuites": {"name", "time", "tests", "failures", "errors"},
    "testsuite": {"name", "time", "tests", "failures", "errors", "skipped", "timestamp", "hostname"},
    "testcase": {"name", "classname", "time"},
    "property": {"name", "value"},
}
TIME = re.compile(r"\d+\.\d{3}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def assert_junit_shape(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    for element in root.iter():
        assert set(element.attrib) <= ATTRIBUTES[element.tag], (element.tag, element.attrib)
        assert REQUIRED.get(element.tag, set()) <= set(element.attrib), (element.tag, element.attrib)
        assert {child.tag for child in element} <= CHILDREN.get(element.tag, set()), element.tag
        if "time" in element.attrib:
            assert TIME.fullmatch(element.attrib["time"]), element.attrib["time"]
    suites = root.findall("testsuite")
    for suite in suites:
        assert TIMESTAMP.fullmatch(suite.attrib["timestamp"]), suite.attrib["timestamp"]
        cases = suite.findall("testcase")
        assert int(suite.attrib["tests"]) == len(cases)
        assert int(suite.attrib["failures"]) == sum(case.find("failure") is not None for case in cases)
        assert int(suite.attrib["errors"]) == sum(case.find("error") is not None for case in cases)
    for total in ("tests", "failures", "errors"):
        assert int(root.attrib[total]) == sum(int(suite.attrib[total]) for suite in suites), total
    assert float(root.attrib["time"]) == pytest.approx(sum(float(suite.attrib["time"]) for suite in suites),
                                                       abs=0.002)
    return root


def _with_end(ops: list[Op], status: str, error: str) -> list[Op]:
    return [*ops[:-1], ops[-1].model_copy(update={"value": {"status": status, "error": error}})]


def _results() -> dict[str, RunResult]:
    ops = failover_history().ops
    return {
        "passed": grade_run(SCENARIO, ops),
        "failed against a defect": grade_run(SCENARIO, failover_history(old_primary_keeps_sending=True).ops),
        "aborted": grade_run(SCENARIO, _with_end(ops, "aborted", "StackError: oms-dr did not start")),
        "interrupted, ungraded": interrupted_run(SCENARIO, _with_end(ops, "interrupted", "interrupted")),
        "interrupted, re-graded": grade_run(SCENARIO, _with_end(ops, "interrupted", "interrupted")),
    }


@pytest.mark.parametrize("case", list(_results()))
def test_a_run_junit_has_the_common_shape_with_time_hostname_and_timestamp(case: str) -> None:
    result = _results()[case]

    root = assert_junit_shape(junit_xml(result, hostname="ci-runner-3"))

    [suite] = root.findall("testsuite")
    assert suite.attrib["hostname"] == "ci-runner-3"
    assert suite.attrib["timestamp"] == "2026-01-01T00:00:00"  # the history's start, in UTC
    assert result.duration_s is not None
    assert result.duration_s > 15
    assert suite.attrib["time"] == f"{result.duration_s:.3f}" == root.attrib["time"]


def test_the_timestamp_is_utc_to_the_second_without_an_offset() -> None:
    assert junit_timestamp("2026-03-01T01:30:05.750000+01:00") == "2026-03-01T00:30:05"
    assert junit_timestamp("2026-03-01T00:30:05") == "2026-03-01T00:30:05"
    assert junit_timestamp("not a time") is None


def test_each_testcase_times_its_grading() -> None:
    result = _results()["passed"]
    suite = ET.fromstring(junit_xml(result, hostname="h")).find("testsuite")
    assert suite is not None

    times = {case.attrib["name"]: case.attrib["time"] for case in suite.iter("testcase")}

    graded = {f"failover-primary-crash.{e.name}": f"{e.graded_in_s:.3f}" for e in result.expectations
              if e.graded_in_s is not None}
    assert times == graded
    assert len(graded) == len(SCENARIO.expectations)


def test_a_run_against_a_defect_names_it_in_the_suite_and_in_every_test() -> None:
    suite = ET.fromstring(junit_xml(_results()["failed against a defect"], hostname="h")).find("testsuite")
    assert suite is not None

    assert suite.attrib["name"] == "failover-primary-crash[no-fencing]"
    names = [case.attrib["name"] for case in suite.iter("testcase")]
    assert "failover-primary-crash[no-fencing].rto.failover" in names
    assert all(name.startswith("failover-primary-crash[no-fencing].") for name in names)


def test_an_interrupted_run_is_one_errored_testcase_and_says_so_in_results_json() -> None:
    result = _results()["interrupted, ungraded"]

    suite = ET.fromstring(junit_xml(result, hostname="h")).find("testsuite")
    data = json.loads(results_json(result))

    assert suite is not None
    [case] = suite.findall("testcase")
    assert case.attrib["name"] == "failover-primary-crash.interrupted"
    error = case.find("error")
    assert error is not None
    assert (error.attrib["type"], error.attrib["message"]) == ("interrupted", "interrupted")
    assert (suite.attrib["tests"], suite.attrib["errors"], suite.attrib["failures"]) == ("1", "1", "0")
    properties = {prop.attrib["name"]: prop.attrib["value"] for prop in suite.iter("property")}
    assert properties["run_status"] == "interrupted"
    assert (data["run_status"], data["abort_reason"]) == ("interrupted", "interrupted")
    assert data["expectations"] == []
    assert result.exit_code == 4  # re-graded later, a run that did not complete


def test_an_interrupted_run_graded_later_keeps_its_expectations_and_the_interruption() -> None:
    result = _results()["interrupted, re-graded"]

    suite = ET.fromstring(junit_xml(result, hostname="h")).find("testsuite")

    assert suite is not None
    assert result.run_status is RunStatus.INTERRUPTED
    assert suite.attrib["tests"] == str(len(SCENARIO.expectations) + 1)
    assert suite.find("testcase[@name='failover-primary-crash.interrupted']/error") is not None


def test_an_aborted_run_carries_its_reason_in_junit_and_results_json() -> None:
    result = _results()["aborted"]

    suite = ET.fromstring(junit_xml(result, hostname="h")).find("testsuite")

    assert suite is not None
    error = suite.find("testcase[@name='failover-primary-crash.run']/error")
    assert error is not None
    assert error.attrib["message"] == "run aborted: StackError: oms-dr did not start"
    assert json.loads(results_json(result))["abort_reason"] == "StackError: oms-dr did not start"


async def _matrix(*, interrupted: bool) -> Matrix:
    second = CRASH.with_name("second.yaml")
    partial: list[Matrix] = []

    async def run_one(request: RunRequest) -> tuple[RunResult, str | None, str | None]:
        if request.path == second:
            raise KeyboardInterrupt
        history = failover_history(recovered=request.variant is Variant.CORRECT)
        return grade_run(SCENARIO, history.ops), f"reports/{request.variant.value}", None

    if not interrupted:
        return await run_matrix([(CRASH, SCENARIO)], run_one, repeats=2)
    with pytest.raises(KeyboardInterrupt):
        await run_matrix([(CRASH, SCENARIO), (second, SCENARIO)], run_one, on_row=partial.append)
    return partial[-1]


@pytest.mark.parametrize("interrupted", [False, True])
async def test_a_matrix_junit_has_the_common_shape(interrupted: bool) -> None:
    matrix = await _matrix(interrupted=interrupted)

    root = assert_junit_shape(matrix_junit_xml(matrix, hostname="ci-runner-3"))

    assert {suite.attrib["hostname"] for suite in root.iter("testsuite")} == {"ci-runner-3"}
    assert len(root.findall("testsuite")) == 1 + interrupted  # an incomplete matrix adds its own suite


async def test_a_matrix_testcase_times_its_run_and_names_the_defect() -> None:
    matrix = await _matrix(interrupted=False)

    root = ET.fromstring(matrix_junit_xml(matrix, hostname="h"))

    [row] = matrix.rows
    run = row.defect[0]
    assert run.duration_s is not None
    assert run.duration_s > 15
    case = root.find("testsuite/testcase[@name='failover-primary-crash[no-promotion].defect.1']")
    assert case is not None
    assert case.attrib["time"] == f"{run.duration_s:.3f}"
    suite = root.find("testsuite")
    assert suite is not None
    row_s = sum(run.duration_s or 0.0 for run in (*row.correct, *row.defect))
    assert float(suite.attrib["time"]) == pytest.approx(row_s, abs=0.002)
    assert suite.attrib["timestamp"] == "2026-01-01T00:00:00"  # the row's first run, not the matrix's end
