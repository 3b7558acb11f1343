import xml.etree.ElementTree as ET
from pathlib import Path

from gameday.report import junit_xml
from gameday.scenario import load_scenario
from gameday.verdict import ExpectationResult, RunResult, grade_run
from tests.unit.history_builder import failover_history

SCENARIO = load_scenario(Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml")


def _suite(result: RunResult) -> ET.Element:
    root = ET.fromstring(junit_xml(result, hostname="ci-runner-3"))
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    return suite


def _case(suite: ET.Element, expectation: str, label: str = "failover-primary-crash") -> ET.Element:
    case = suite.find(f"testcase[@name='{label}.{expectation}']")
    assert case is not None
    return case


def test_a_passing_run_has_one_passing_testcase_per_expectation() -> None:
    suite = _suite(grade_run(SCENARIO, failover_history().ops))

    assert suite.get("name") == "failover-primary-crash"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "0", "0")
    assert len(suite.findall("testcase")) == 7
    outcomes = [child.tag for case in suite.findall("testcase") for child in case]
    assert outcomes == ["system-out"] * 7
    properties = {prop.get("name"): prop.get("value") for prop in suite.iterfind("properties/property")}
    assert (properties["seed"], properties["run_id"]) == ("7", "run-42")


def test_a_failed_expectation_is_a_failure_with_observed_expected_and_evidence() -> None:
    suite = _suite(grade_run(SCENARIO, failover_history(old_primary_keeps_sending=True).ops))

    failure = _case(suite, "writers.concurrent_active", "failover-primary-crash[no-fencing]").find("failure")
    assert failure is not None
    assert failure.get("message") == "observed 2, expected max 1"
    assert failure.text is not None
    assert "oms-primary-1-2" in failure.text
    assert suite.get("failures") == "2"  # and orders.sent_without_lease


def test_unknown_is_an_error_never_a_pass() -> None:
    no_final_state = [op for op in failover_history().ops if op.f not in ("final-state", "snapshot")]
    suite = _suite(grade_run(SCENARIO, no_final_state))

    error = _case(suite, "orders.ghost").find("error")
    assert error is not None
    assert error.get("type") == "unknown"
    assert "no final-state probe" in (error.get("message") or "")
    assert (suite.get("failures"), suite.get("errors")) == ("0", "6")  # fills.lost has no ledger either


def test_a_stack_that_stopped_trading_fails_what_needs_an_active_instance() -> None:
    suite = _suite(grade_run(SCENARIO, failover_history(recovered=False).ops))

    ghost = _case(suite, "orders.ghost").find("failure")
    assert ghost is not None
    assert ghost.text is not None
    assert "no instance was active at the end: trading had stopped" in ghost.text
    assert (suite.get("failures"), suite.get("errors")) == ("4", "0")
    never = _case(suite, "rto.failover").find("failure")
    assert never is not None
    assert never.get("message") == "observed never, expected max 10s"


def test_an_aborted_run_is_an_error_with_its_reason() -> None:
    ops = failover_history().ops
    aborted = {"status": "aborted", "error": "the run exceeded its budget of 140s"}
    end = ops[-1].model_copy(update={"value": aborted})
    result = grade_run(SCENARIO, [*ops[:-1], end])

    suite = _suite(result)

    error = _case(suite, "run").find("error")
    assert error is not None
    assert error.get("type") == "aborted"
    assert error.get("message") == "run aborted: the run exceeded its budget of 140s"
    assert (suite.get("tests"), suite.get("errors")) == ("8", "1")
    assert (result.abort_reason, result.exit_code) == ("the run exceeded its budget of 140s", 4)


def test_text_xml_cannot_carry_is_replaced_so_the_document_stays_valid() -> None:
    result = grade_run(SCENARIO, failover_history().ops)
    dirty = ExpectationResult.model_validate({**result.expectations[0].model_dump(), "verdict": "fail",
                                              "note": "bell \x07 <&> \"quotes\""})
    dirty_result = result.model_copy(update={"expectations": (dirty,)})

    failure = _case(_suite(dirty_result), "rto.failover").find("failure")

    assert failure is not None
    assert failure.text is not None
    assert "bell \ufffd <&> \"quotes\"" in failure.text
