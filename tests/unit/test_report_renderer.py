"""The readable reports rendered by a child process (gameday.report.renderer): the same files as in
process, a failure named, nothing written when no run comes."""

from __future__ import annotations

from pathlib import Path

from gameday.history import HISTORY_FILE
from gameday.report.files import RESULTS_JSON
from gameday.report.pages import REPORT_DATA_JSON, write_readable_reports
from gameday.report.renderer import ReportRenderer
from gameday.report.results import results_json
from gameday.report.summary import SUMMARY_MD
from tests.unit.test_report_html_data import failover_run
from tests.unit.test_report_html_page import _result, _run_dir

READABLE = (REPORT_DATA_JSON, SUMMARY_MD, "report.html")


def _graded_run(tmp_path: Path) -> tuple[Path, Path]:
    """The same graded run twice: one directory for the child, one for this process."""
    ops = failover_run().ops
    result = _result(ops)
    dirs = []
    for name in ("child", "here"):
        run_dir = _run_dir(tmp_path / name)
        (run_dir / HISTORY_FILE).write_text("".join(op.model_dump_json() + "\n" for op in ops))
        (run_dir / RESULTS_JSON).write_text(results_json(result))
        dirs.append(run_dir)
    write_readable_reports(result, ops, dirs[1])
    return dirs[0], dirs[1]


def test_the_child_writes_the_reports_this_process_would_have(tmp_path: Path) -> None:
    child_dir, here_dir = _graded_run(tmp_path)
    said: list[str] = []
    ops = failover_run().ops
    pending = ReportRenderer.start().render(_result(ops), ops, child_dir, said.append)
    pending.wait()

    assert said == []
    for name in READABLE:
        assert (child_dir / name).read_text() == (here_dir / name).read_text(), name


def test_a_child_that_fails_is_named_and_costs_nothing_else(tmp_path: Path) -> None:
    child_dir, _ = _graded_run(tmp_path)
    (child_dir / RESULTS_JSON).write_text("not json")
    said: list[str] = []
    ops = failover_run().ops
    ReportRenderer.start().render(_result(ops), ops, child_dir, said.append).wait()

    assert len(said) == 1
    assert said[0].startswith("report.html not written: ValidationError")
    assert not (child_dir / "report.html").exists()


def test_a_cancelled_renderer_writes_nothing(tmp_path: Path) -> None:
    renderer = ReportRenderer.start()
    renderer.cancel()
    renderer.cancel()  # harmless twice
    assert list(tmp_path.iterdir()) == []


def test_without_a_child_the_reports_are_written_in_this_process(tmp_path: Path) -> None:
    child_dir, here_dir = _graded_run(tmp_path)
    ops = failover_run().ops
    ReportRenderer(None).render(_result(ops), ops, child_dir, lambda line: None).wait()
    assert (child_dir / "report.html").read_text() == (here_dir / "report.html").read_text()
