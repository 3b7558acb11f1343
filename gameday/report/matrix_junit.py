"""``matrix.xml``: the detection matrix as JUnit, for nightly CI suites.

One testsuite per scenario, one testcase per run of each variant. A run that does not read as
expected is a ``<failure>`` whose message says what was expected and what happened; a run that
aborted is an ``<error>``. Each testcase's ``system-out`` names the run directory.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gameday.matrix import Matrix, MatrixRow, RunSummary, Variant
from gameday.report.junit import xml_text

__all__ = ["matrix_junit_xml"]


def _expected_text(row: MatrixRow, variant: Variant) -> str:
    if variant is Variant.CORRECT:
        return "the correct stack passes every expectation"
    return f"defect {', '.join(row.defects)} fails {', '.join(row.must_fail) or '(no expectation named)'}"


def _observed_text(run: RunSummary) -> str:
    text = f"verdict {run.verdict.value}"
    if run.failing:
        text += f"; failing: {', '.join(run.failing)}"
    if run.unknown:
        text += f"; unknown: {', '.join(run.unknown)}"
    if run.starvation is not None and run.starvation.starved:
        text += f"; starved: {', '.join(run.starvation.reasons)}"
    return text


def _case(suite: ET.Element, row: MatrixRow, variant: Variant, number: int, run: RunSummary) -> None:
    case = ET.SubElement(suite, "testcase", {
        "name": f"{row.scenario}.{variant.value}.{number}",
        "classname": f"gameday.matrix.{row.scenario}",
    })
    if run.error is not None:
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
    })
    ET.SubElement(case, "failure", {
        "type": "no known defect",
        "message": "the scenario names no known_defect, so nothing shows it can fail",
    })


def _totals(rows: list[MatrixRow]) -> dict[str, str]:
    runs = [run for row in rows for run in (*row.correct, *row.defect)]
    no_defect = sum(not row.defect for row in rows)
    errors = sum(run.error is not None for run in runs)
    failures = sum(run.error is None and not run.as_expected for run in runs) + no_defect
    return {"tests": str(len(runs) + no_defect), "failures": str(failures), "errors": str(errors),
            "skipped": "0"}


def _load_properties(matrix: Matrix) -> list[tuple[str, str]]:
    """The stress level and the load average over the matrix, on every suite."""
    properties = [("stress", str(matrix.stress))]
    load = matrix.load_average
    if load is not None:
        properties += [("load_average_max", f"{load.max_1m:g}"), ("load_average_mean", f"{load.mean_1m:g}"),
                       ("cores", str(load.cores))]
    return properties


def _incomplete_suite(root: ET.Element, matrix: Matrix) -> None:
    suite = ET.SubElement(root, "testsuite", {
        "name": "matrix", "timestamp": matrix.generated, "tests": "1", "failures": "0", "errors": "1",
        "skipped": "0",
    })
    case = ET.SubElement(suite, "testcase", {"name": "matrix.complete", "classname": "gameday.matrix"})
    ET.SubElement(case, "error", {
        "type": "incomplete",
        "message": f"{len(matrix.rows)} of {matrix.scenarios_planned} scenarios ran (stopped or interrupted)",
    })


def matrix_junit_xml(matrix: Matrix) -> str:
    totals = _totals(list(matrix.rows))
    if not matrix.complete:
        totals = {**totals, "tests": str(int(totals["tests"]) + 1), "errors": str(int(totals["errors"]) + 1)}
    root = ET.Element("testsuites", {"name": "gameday.matrix", **totals})
    if not matrix.complete:
        _incomplete_suite(root, matrix)
    for row in matrix.rows:
        suite = ET.SubElement(root, "testsuite", {
            "name": row.scenario, "timestamp": matrix.generated, **_totals([row]),
        })
        properties = ET.SubElement(suite, "properties")
        for name, value in (("path", row.path), ("defects", ",".join(row.defects)),
                            ("must_fail", ",".join(row.must_fail)), ("repeats", str(matrix.repeats)),
                            *_load_properties(matrix)):
            ET.SubElement(properties, "property", {"name": name, "value": xml_text(value)})
        for variant, runs in ((Variant.CORRECT, row.correct), (Variant.DEFECT, row.defect)):
            for number, run in enumerate(runs, start=1):
                _case(suite, row, variant, number, run)
        if not row.defect:
            _no_defect_case(suite, row)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
