"""The pages a person reads after a run, from one :class:`ReportData`: ``report-data.json`` (the
data every plot draws), ``summary.md`` (the postmortem block) and ``report.html`` (which links
to both)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.history import Op
from gameday.report.data import build_report_data
from gameday.report.html import write_html_report
from gameday.report.summary import write_summary
from gameday.verdict import RunResult

__all__ = ["REPORT_DATA_JSON", "ReadablePaths", "write_readable_reports"]

REPORT_DATA_JSON = "report-data.json"


@dataclass(frozen=True)
class ReadablePaths:
    report_data_json: Path
    summary_md: Path
    report_html: Path


def write_readable_reports(result: RunResult, ops: Sequence[Op], run_dir: Path) -> ReadablePaths:
    """``report-data.json``, ``summary.md`` then ``report.html`` in ``run_dir``."""
    data = build_report_data(ops, result.expectations)
    data_json = run_dir / REPORT_DATA_JSON
    data_json.write_text(data.model_dump_json(indent=1) + "\n", encoding="utf-8")
    summary = write_summary(result, ops, run_dir, data=data)
    return ReadablePaths(report_data_json=data_json, summary_md=summary,
                         report_html=write_html_report(result, ops, run_dir, data=data))
