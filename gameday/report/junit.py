"""``junit.xml``: one testsuite per scenario, one testcase per expectation.

A failed expectation is a ``<failure>``; an unknown one is an ``<error type="unknown">`` so that
CI never counts it as passed. An aborted run adds a testcase ``<scenario>.run`` with an
``<error type="aborted">`` carrying the reason.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from gameday.verdict import ExpectationResult, RunResult, RunStatus, Verdict

__all__ = ["junit_xml"]

# Characters XML 1.0 cannot carry at all (evidence comes from other processes' output).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _evidence_text(result: ExpectationResult) -> str:
    lines = [f"note: {result.note}"] if result.note else []
    if result.error:
        lines.append(f"error: {result.error}")
    lines.append("evidence: " + json.dumps(result.evidence, indent=2, sort_keys=True, default=str))
    return xml_text("\n".join(lines))


def _failure(case: ET.Element, result: ExpectationResult) -> None:
    element = ET.SubElement(case, "failure", {
        "type": "fail",
        "message": xml_text(f"observed {result.observed_text}, expected {result.bound_text}"),
    })
    element.text = _evidence_text(result)


def _unknown(case: ET.Element, result: ExpectationResult) -> None:
    reason = result.error or result.note or "no evidence"
    element = ET.SubElement(case, "error", {
        "type": "unknown",
        "message": xml_text(f"unknown: {reason} (expected {result.bound_text})"),
    })
    element.text = _evidence_text(result)


def _passed(case: ET.Element, result: ExpectationResult) -> None:
    out = ET.SubElement(case, "system-out")
    summary = f"observed {result.observed_text}, expected {result.bound_text}. {result.note}"
    out.text = xml_text(summary.strip())


_OUTCOME: dict[Verdict, Callable[[ET.Element, ExpectationResult], None]] = {
    Verdict.PASS: _passed,
    Verdict.FAIL: _failure,
    Verdict.UNKNOWN: _unknown,
}


def _properties(suite: ET.Element, result: RunResult) -> None:
    properties = ET.SubElement(suite, "properties")
    values = {
        "seed": str(result.seed),
        "run_id": result.run_id or "",
        "defects": ",".join(result.defects),
        "verdict": str(result.verdict),
    }
    for name, value in values.items():
        ET.SubElement(properties, "property", {"name": name, "value": xml_text(value)})


def _aborted(suite: ET.Element, result: RunResult) -> None:
    case = ET.SubElement(suite, "testcase", {"name": f"{result.scenario}.run",
                                             "classname": f"gameday.{result.scenario}"})
    reason = result.abort_reason or "no reason recorded"
    element = ET.SubElement(case, "error", {"type": "aborted", "message": xml_text(f"run aborted: {reason}")})
    element.text = xml_text(f"the run aborted before it completed; its expectations were graded on a partial "
                            f"history.\nreason: {reason}")


def junit_xml(result: RunResult) -> str:
    counts = result.counts
    aborted = result.run_status is RunStatus.ABORTED
    totals = {
        "tests": str(len(result.expectations) + aborted),
        "failures": str(counts[Verdict.FAIL]),
        "errors": str(counts[Verdict.UNKNOWN] + aborted),
        "skipped": "0",
    }
    root = ET.Element("testsuites", {"name": "gameday", **totals})
    suite = ET.SubElement(root, "testsuite", {"name": result.scenario, **totals})
    if result.started_wall:
        suite.set("timestamp", result.started_wall)
    _properties(suite, result)
    if aborted:
        _aborted(suite, result)
    for expectation in result.expectations:
        case = ET.SubElement(suite, "testcase", {
            "name": f"{result.scenario}.{expectation.name}",
            "classname": f"gameday.{result.scenario}",
        })
        _OUTCOME[expectation.verdict](case, expectation)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
