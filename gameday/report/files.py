"""Writing a graded run's reports into its run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gameday.report.junit import junit_xml
from gameday.report.results import results_json
from gameday.verdict import RunResult

__all__ = ["JUNIT_XML", "RESULTS_JSON", "ReportPaths", "write_reports"]

RESULTS_JSON = "results.json"
JUNIT_XML = "junit.xml"


@dataclass(frozen=True)
class ReportPaths:
    results_json: Path
    junit_xml: Path


def write_reports(result: RunResult, directory: Path) -> ReportPaths:
    """Write ``results.json`` and ``junit.xml`` into ``directory`` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = ReportPaths(results_json=directory / RESULTS_JSON, junit_xml=directory / JUNIT_XML)
    paths.results_json.write_text(results_json(result), encoding="utf-8")
    paths.junit_xml.write_text(junit_xml(result), encoding="utf-8")
    return paths
