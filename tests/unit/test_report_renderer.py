"""The readable reports written by a forked child (gameday.report.renderer): the same files as in
this process, a failure named, and in this process where no child can be forked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gameday.report import renderer
from gameday.report.pages import REPORT_DATA_JSON, write_readable_reports
from gameday.report.renderer import render_in_background
from gameday.report.summary import SUMMARY_MD
from tests.unit.test_report_html_data import failover_run
from tests.unit.test_report_html_page import _result, _run_dir

READABLE = (REPORT_DATA_JSON, SUMMARY_MD, "report.html")


def _two_run_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """The same run twice: one directory for the child, one written here to compare with."""
    ops = failover_run().ops
    background, here = _run_dir(tmp_path / "background"), _run_dir(tmp_path / "here")
    write_readable_reports(_result(ops), ops, here)
    return background, here


def test_the_child_writes_the_reports_this_process_would_have(tmp_path: Path) -> None:
    background, here = _two_run_dirs(tmp_path)
    said: list[str] = []
    ops = failover_run().ops
    pending = render_in_background(_result(ops), ops, background, said.append)
    pending.wait()
    pending.wait()  # waiting again returns at once

    assert said == []
    for name in READABLE:
        assert (background / name).read_text() == (here / name).read_text(), name


def test_a_child_that_fails_is_named_and_costs_nothing_else(tmp_path: Path) -> None:
    said: list[str] = []
    ops = failover_run().ops
    render_in_background(_result(ops), ops, tmp_path / "no-such-run", said.append).wait()

    assert len(said) == 1
    assert said[0].startswith("report.html not written: FileNotFoundError: ")
    assert not (tmp_path / "no-such-run").exists()


def test_where_no_child_can_be_forked_the_reports_are_written_here(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_fork() -> int:
        raise OSError("fork: resource temporarily unavailable")

    monkeypatch.setattr(renderer.os, "fork", no_fork)
    background, here = _two_run_dirs(tmp_path)
    ops = failover_run().ops
    open_fds = len(os.listdir("/proc/self/fd"))
    pending = render_in_background(_result(ops), ops, background, lambda line: None)

    assert pending is renderer.DONE
    assert (background / "report.html").read_text() == (here / "report.html").read_text()
    assert len(os.listdir("/proc/self/fd")) == open_fds  # the pipe's two ends closed, not leaked
