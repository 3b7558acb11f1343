"""The detection matrix as JUnit: one testcase per run, failures only where a run misreads."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gameday.matrix import Matrix, RunRequest, Variant, run_matrix
from gameday.report.matrix_junit import matrix_junit_xml
from gameday.scenario import load_scenario
from gameday.verdict import grade_run
from tests.unit.history_builder import failover_history

CRASH = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"
SCENARIO = load_scenario(CRASH)


async def _matrix(outcome_of_defect_run: str, repeats: int = 2) -> ET.Element:
    async def run_one(request: RunRequest) -> tuple[object, str | None, str | None]:
        correct = request.variant is Variant.CORRECT
        recovered = correct or outcome_of_defect_run == "recovers"
        result = grade_run(SCENARIO, failover_history(recovered=recovered).ops)
        error = "the stack did not start" if not correct and outcome_of_defect_run == "aborts" else None
        if not correct and outcome_of_defect_run == "stopped":  # a stop line aborted it, on purpose
            result = result.model_copy(update={"stopped_by": "no_active_for"})
            error = "stopped: no_active_for (4s without an active instance) at t+9.0s"
        return result, f"reports/{request.variant.value}-{request.repeat}", error

    matrix = await run_matrix([(CRASH, SCENARIO)], run_one, repeats=repeats)  # type: ignore[arg-type]
    return ET.fromstring(matrix_junit_xml(matrix))


async def test_a_matrix_as_expected_has_one_passing_case_per_run() -> None:
    root = await _matrix("fails")

    assert root.attrib["tests"] == "4"
    assert (root.attrib["failures"], root.attrib["errors"]) == ("0", "0")
    names = [case.attrib["name"] for case in root.iter("testcase")]
    expected = [f"failover-primary-crash{label}.{n}" for label in (".correct", "[no-promotion].defect")
                for n in (1, 2)]
    assert names == expected
    outputs = [case.findtext("system-out") or "" for case in root.iter("testcase")]
    assert "run: reports/defect-1" in outputs[3]
    assert "failing: rto.failover" in outputs[3]


async def test_a_defect_run_that_passes_is_a_failure_naming_the_expectation_it_should_have_failed() -> None:
    root = await _matrix("recovers", repeats=1)

    (failure,) = root.iter("failure")
    assert root.attrib["failures"] == "1"
    assert "defect no-promotion fails rto.failover" in failure.attrib["message"]
    assert "observed: verdict pass" in failure.attrib["message"]


async def test_an_aborted_run_is_an_error_not_a_failure() -> None:
    root = await _matrix("aborts", repeats=1)

    (error,) = root.iter("error")
    assert (root.attrib["failures"], root.attrib["errors"]) == ("0", "1")
    assert error.attrib["message"] == "the stack did not start"


async def test_a_defect_run_a_stop_line_aborted_that_fails_as_expected_is_neither_error_nor_failure() -> None:
    root = await _matrix("stopped", repeats=1)

    assert (root.attrib["failures"], root.attrib["errors"]) == ("0", "0")
    defect_out = [case.findtext("system-out") or "" for case in root.iter("testcase")][-1]
    assert "aborted: stopped: no_active_for" in defect_out


async def test_a_scenario_without_a_known_defect_is_a_failing_case() -> None:
    scenario = SCENARIO.model_copy(update={"known_defect": None})

    async def run_one(request: RunRequest) -> tuple[object, str | None, str | None]:
        return grade_run(scenario, failover_history(recovered=True).ops), "dir", None

    matrix = await run_matrix([(CRASH, scenario)], run_one, repeats=1)  # type: ignore[arg-type]
    root = ET.fromstring(matrix_junit_xml(matrix))

    assert (root.attrib["tests"], root.attrib["failures"]) == ("2", "1")
    (failure,) = root.iter("failure")
    assert "no known_defect" in failure.attrib["message"]


async def test_rows_are_reported_as_they_finish_and_an_interrupted_matrix_says_it_is_incomplete() -> None:
    second = CRASH.with_name("second.yaml")
    seen: list[ET.Element] = []

    async def run_one(request: RunRequest) -> tuple[object, str | None, str | None]:
        if request.path == second:
            raise KeyboardInterrupt
        correct = request.variant is Variant.CORRECT
        return grade_run(SCENARIO, failover_history(recovered=correct).ops), "dir", None

    def on_row(matrix_so_far: Matrix) -> None:
        assert not matrix_so_far.as_expected
        seen.append(ET.fromstring(matrix_junit_xml(matrix_so_far)))

    with pytest.raises(KeyboardInterrupt):
        await run_matrix([(CRASH, SCENARIO), (second, SCENARIO)], run_one,  # type: ignore[arg-type]
                         on_row=on_row)

    (partial,) = seen
    assert (partial.attrib["tests"], partial.attrib["failures"], partial.attrib["errors"]) == ("3", "0", "1")
    (error,) = partial.iter("error")
    assert error.attrib["message"].startswith("1 of 2 scenarios ran")
