"""``junit.xml``: one testsuite per scenario, one testcase per expectation.

A failed expectation is a ``<failure>``; an unknown one is an ``<error type="unknown">`` so that
CI never counts it as passed. An aborted run adds a testcase ``<scenario>.run`` with an
``<error type="aborted">`` carrying the reason; an interrupted one a testcase
``<scenario>.interrupted`` with an ``<error type="interrupted">``. A run against defects names
them in every test: ``failover-primary-crash[no-fencing].rto.failover``.

The shape is the common JUnit one (Jenkins' junit-10.xsd): ``testsuites > testsuite > testcase``,
``time`` in seconds on each of them, the suite's ``timestamp`` as ``YYYY-MM-DDTHH:MM:SS`` (UTC, no
offset) and its ``hostname``. A suite's time is the run's wall time; a testcase's, its grading.
"""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from gameday.verdict import ExpectationResult, RunResult, RunStatus, Verdict

__all__ = ["junit_seconds", "junit_timestamp", "junit_xml", "run_label"]

# Characters XML 1.0 cannot carry at all (evidence comes from other processes' output).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def junit_timestamp(wall: str | None) -> str | None:
    """An ISO 8601 wall time as the JUnit schema wants it: UTC, to the second, no offset."""
    if wall is None:
        return None
    try:
        moment = datetime.fromisoformat(wall)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def junit_seconds(seconds: float | None) -> str:
    """A ``time`` attribute: seconds with three decimals (never negative, never an exponent)."""
    return f"{max(seconds or 0.0, 0.0):.3f}"


def run_label(scenario: str, defects: Sequence[str]) -> str:
    """The scenario, with the defects a run had switched on: ``split-brain[no-fencing]``."""
    return f"{scenario}[{','.join(defects)}]" if defects else scenario


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
        "run_status": str(result.run_status or ""),
    }
    for name, value in values.items():
        ET.SubElement(properties, "property", {"name": name, "value": xml_text(value)})


# a run that stopped early: its testcase's name, and what happened to it
_STOPPED = {RunStatus.ABORTED: ("run", "aborted"), RunStatus.INTERRUPTED: ("interrupted", "was interrupted")}


def _stopped(suite: ET.Element, result: RunResult, label: str, status: RunStatus) -> None:
    """The testcase of a run that aborted or was interrupted: an error carrying the reason."""
    name, happened = _STOPPED[status]
    case = ET.SubElement(suite, "testcase", {"name": f"{label}.{name}",
                                             "classname": f"gameday.{result.scenario}",
                                             "time": junit_seconds(result.duration_s)})
    reason = result.abort_reason or "no reason recorded"
    message = f"run aborted: {reason}" if status is RunStatus.ABORTED else "interrupted"
    element = ET.SubElement(case, "error", {"type": status.value, "message": xml_text(message)})
    graded = (f"its {len(result.expectations)} expectation(s) were graded on a partial history"
              if result.expectations else "no expectation was graded")
    element.text = xml_text(f"the run {happened} before it completed; {graded}.\nreason: {reason}")


def junit_xml(result: RunResult, *, hostname: str | None = None) -> str:
    """The run as JUnit XML; ``hostname`` defaults to this machine's name."""
    counts = result.counts
    status = result.run_status
    stopped = status is not None and status.stopped_early
    label = run_label(result.scenario, result.defects)
    graded_s = sum(expectation.graded_in_s or 0.0 for expectation in result.expectations)
    elapsed = junit_seconds(result.duration_s if result.duration_s is not None else graded_s)
    totals = {
        "tests": str(len(result.expectations) + stopped),
        "failures": str(counts[Verdict.FAIL]),
        "errors": str(counts[Verdict.UNKNOWN] + stopped),
    }
    root = ET.Element("testsuites", {"name": "gameday", **totals, "time": elapsed})
    suite = ET.SubElement(root, "testsuite", {
        "name": label, **totals, "skipped": "0", "time": elapsed,
        "hostname": hostname or socket.gethostname(), "id": "0", "package": "gameday",
    })
    timestamp = junit_timestamp(result.started_wall) or junit_timestamp(result.ended_wall)
    if timestamp is not None:
        suite.set("timestamp", timestamp)
    _properties(suite, result)
    if status is not None and stopped:
        _stopped(suite, result, label, status)
    for expectation in result.expectations:
        case = ET.SubElement(suite, "testcase", {
            "name": f"{label}.{expectation.name}",
            "classname": f"gameday.{result.scenario}",
            "time": junit_seconds(expectation.graded_in_s),
        })
        _OUTCOME[expectation.verdict](case, expectation)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
