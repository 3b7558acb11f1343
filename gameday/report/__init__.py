"""Reports of a graded run: data first (results.json, junit.xml), then the console view."""

from gameday.report.console import console_report, console_text, expectations_table, summary_line
from gameday.report.files import JUNIT_XML, RESULTS_JSON, ReportPaths, write_reports
from gameday.report.junit import junit_xml
from gameday.report.results import read_results_json, results_json

__all__ = [
    "JUNIT_XML",
    "RESULTS_JSON",
    "ReportPaths",
    "console_report",
    "console_text",
    "expectations_table",
    "junit_xml",
    "read_results_json",
    "results_json",
    "summary_line",
    "write_reports",
]
