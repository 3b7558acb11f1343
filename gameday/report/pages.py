"""The pages a person reads after a run, from one :class:`ReportData`: ``report-data.json`` (the
data every plot draws), ``summary.md`` (the postmortem block) and ``report.html`` (which links
to both)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gameday.errors import GamedayError
from gameday.history import Op
from gameday.metrics import AlertRule
from gameday.report.data import build_report_data
from gameday.report.html import write_html_report
from gameday.report.summary import write_summary
from gameday.scenario import load_scenario
from gameday.service_logs import read_logs
from gameday.verdict import RunResult

__all__ = ["REPORT_DATA_JSON", "ReadablePaths", "write_readable_reports"]

REPORT_DATA_JSON = "report-data.json"
SCENARIO_FILE = "scenario.yaml"
"""The scenario a run copies into its directory (``gameday.runner.SCENARIO_FILE``)."""


@dataclass(frozen=True)
class ReadablePaths:
    report_data_json: Path
    summary_md: Path
    report_html: Path


def _alert_rules(run_dir: Path) -> tuple[AlertRule, ...]:
    """The alert rules of the scenario the run copied into its directory (none if it cannot be read)."""
    try:
        scenario = load_scenario(run_dir / SCENARIO_FILE, check_files=False)
    except (GamedayError, OSError):
        return ()
    return tuple(alert.rule for alert in scenario.alerts)


def write_readable_reports(result: RunResult, ops: Sequence[Op], run_dir: Path, *,
                           plot_workers: int = 1) -> ReadablePaths:
    """``report-data.json``, ``summary.md`` then ``report.html`` in ``run_dir`` (its plots drawn in
    ``plot_workers`` processes: more than one only from a process with no other thread)."""
    data = build_report_data(ops, result.expectations, alerts=_alert_rules(run_dir), logs=read_logs(run_dir))
    data_json = run_dir / REPORT_DATA_JSON
    data_json.write_text(data.model_dump_json(indent=1) + "\n", encoding="utf-8")
    summary = write_summary(result, ops, run_dir, data=data)
    return ReadablePaths(report_data_json=data_json, summary_md=summary,
                         report_html=write_html_report(result, ops, run_dir, data=data,
                                                                     plot_workers=plot_workers))
