"""``matrix.xml``: the detection matrix as JUnit, for nightly CI suites.

One testsuite per scenario, one testcase per run of each variant. A run that does not read as
expected is a ``<failure>`` whose message says what was expected and what happened; a run that
aborted is an ``<error>``, unless it reads as expected (a defect's run a stop line aborted on
purpose: graded as any other). Each testcase's ``system-out`` names the run directory.

A defect run's test names its defects (``failover-primary-crash[no-promotion].defect.1``); a
testcase's ``time`` is its run's wall time, a suite's the sum of its row's, and a suite's
``timestamp`` its first run's start (:mod:`gameday.report.junit` has the formats).
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET

from gameday.matrix import Matrix, MatrixRow, RunSummary, Variant
from gameday.report.junit import junit_seconds, junit_timestamp, run_label, xml_text

__all__ = ["matrix_junit_xml"]


def _expected_text(row: MatrixRow, variant: Variant) -> str:
    if variant is Variant.CORRECT:
        return "the correct stack passes every expectation"
    return f"defect {', '.join(row.defects)} fails {', '.join(row.must_fail) or '(no expectation named)'}"


def _observed_text(run: RunSummary) -> str:
    text = f"verdict {run.verdict.value}"
    if run.error is not None:
        text += f"; aborted: {run.error}"
    if run.failing:
        text += f"; failing: {', '.join(run.failing)}"
    if run.unknown:
        text += f"; unknown: {', '.join(run.unknown)}"
    if run.starvation is not None and run.starvation.starved:
        text += f"; starved: {', '.join(run.starvation.reasons)}"
    return text


def _case(suite: ET.Element, row: MatrixRow, variant: Variant, number: int, run: RunSummary) -> None:
    label = run_label(row.scenario, row.defects if variant is Variant.DEFECT else ())
    case = ET.SubElement(suite, "testcase", {
        "name": f"{label}.{variant.value}.{number}",
        "classname": f"gameday.matrix.{row.scenario}",
        "time": junit_seconds(run.duration_s),
    })
    if run.error is not None and not run.as_expected:
        element = ET.SubElement(case, "error", {"type": "aborted", "message": xml_text(run.error)})
        element.text = xml_text(f"expected: {_expected_text(row, variant)}")
    elif not run.as_expected:
        message = f"expected: {_expected_text(row, variant)}; observed: {_observed_text(run)}"
        ET.SubElement(case, "failure", {"type": "not as expected", "message": xml_text(message)})
    out = ET.SubElement(case, "system-out")
    out.text = xml_text(f"{_observed_text(run)}\nrun: {run.run_dir or '(none)'}")


def _no_defect_case(suite: ET.Element, row: MatrixRow) -> None:
    case = ET.SubElement(suite, "testcase", {
        "name": f"{row.scenario}.defect", "classname": f"gameday.matrix.{row.scenario}",
        "time": junit_seconds(0),
    })
    ET.SubElement(case, "failure", {
        "type": "no known defect",
        "message": "the scenario names no known_defect, so nothing shows it can fail",
    })


def _runs(rows: list[MatrixRow]) -> list[RunSummary]:
    return [run for row in rows for run in (*row.correct, *row.defect)]


def _totals(rows: list[MatrixRow]) -> dict[str, str]:
    runs = _runs(rows)
    no_defect = sum(not row.defect and not row.defect_not_run for row in rows)
    errors = sum(run.error is not None and not run.as_expected for run in runs)
    failures = sum(run.error is None and not run.as_expected for run in runs) + no_defect
    return {"tests": str(len(runs) + no_defect), "failures": str(failures), "errors": str(errors),
            "time": junit_seconds(sum(run.duration_s or 0.0 for run in runs))}


def _suite_attributes(name: str, totals: dict[str, str], timestamp: str | None, hostname: str,
                      number: int) -> dict[str, str]:
    """A testsuite's attributes: its totals, where and when it ran (timestamp omitted if unknown)."""
    when = {"timestamp": timestamp} if timestamp else {}
    return {"name": name, **totals, "skipped": "0", **when, "hostname": hostname, "id": str(number),
            "package": "gameday.matrix"}


def _row_timestamp(row: MatrixRow, matrix: Matrix) -> str | None:
    """When the row's first run started; the matrix's own time for rows stored without one."""
    first = next((run.started for run in (*row.correct, *row.defect) if run.started), None)
    return junit_timestamp(first) or junit_timestamp(matrix.generated)


def _load_properties(matrix: Matrix) -> list[tuple[str, str]]:
    """The stress level and the load average over the matrix, on every suite."""
    properties = [("stress", str(matrix.stress))]
    load = matrix.load_average
    if load is not None:
        properties += [("load_average_max", f"{load.max_1m:g}"), ("load_average_mean", f"{load.mean_1m:g}"),
                       ("cores", str(load.cores))]
    return properties


def _incomplete_suite(root: ET.Element, matrix: Matrix, hostname: str) -> None:
    totals = {"tests": "1", "failures": "0", "errors": "1", "time": junit_seconds(0)}
    suite = ET.SubElement(root, "testsuite", _suite_attributes(
        "matrix", totals, junit_timestamp(matrix.generated), hostname, 0))
    case = ET.SubElement(suite, "testcase", {"name": "matrix.complete", "classname": "gameday.matrix",
                                             "time": junit_seconds(0)})
    ET.SubElement(case, "error", {
        "type": "incomplete",
        "message": f"{len(matrix.rows)} of {matrix.scenarios_planned} scenarios ran (stopped or interrupted)",
    })


def matrix_junit_xml(matrix: Matrix, *, hostname: str | None = None) -> str:
    """The matrix as JUnit XML; ``hostname`` defaults to this machine's name."""
    host = hostname or socket.gethostname()
    totals = _totals(list(matrix.rows))
    if not matrix.complete:
        totals = {**totals, "tests": str(int(totals["tests"]) + 1), "errors": str(int(totals["errors"]) + 1)}
    root = ET.Element("testsuites", {"name": "gameday.matrix", **totals})
    if not matrix.complete:
        _incomplete_suite(root, matrix, host)
    for index, row in enumerate(matrix.rows, start=1):
        suite = ET.SubElement(root, "testsuite", _suite_attributes(
            row.scenario, _totals([row]), _row_timestamp(row, matrix), host, index))
        properties = ET.SubElement(suite, "properties")
        for name, value in (("path", row.path), ("defects", ",".join(row.defects)),
                            ("must_fail", ",".join(row.must_fail)), ("repeats", str(matrix.repeats)),
                            *_load_properties(matrix)):
            ET.SubElement(properties, "property", {"name": name, "value": xml_text(value)})
        for variant, runs in ((Variant.CORRECT, row.correct), (Variant.DEFECT, row.defect)):
            for number, run in enumerate(runs, start=1):
                _case(suite, row, variant, number, run)
        if not row.defect and not row.defect_not_run:
            _no_defect_case(suite, row)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
