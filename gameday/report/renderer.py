"""The readable reports (``report-data.json``, ``summary.md``, ``report.html``) off the verdict's path.

Plotting is most of a run's time after its final capture. :meth:`ReportRenderer.start` spawns
:mod:`gameday.report.render_child` as soon as the run's final state is captured: it imports matplotlib
while the stack stops and the run is graded. :meth:`ReportRenderer.render` hands it the graded run
and returns at once; :meth:`PendingReports.wait` waits for the files (the CLI prints the verdict
first). Where no child can be started, the reports are written in this process, as before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gameday.history import Op
from gameday.report.pages import write_readable_reports
from gameday.verdict import RunResult

__all__ = ["DONE", "PendingReports", "ReportRenderer", "write_readable"]

CHILD = (sys.executable, "-m", "gameday.report.render_child")
RENDER_TIMEOUT_S = 300.0
Progress = Callable[[str], None]


def write_readable(result: RunResult, ops: Sequence[Op], run_dir: Path, progress: Progress) -> None:
    """The readable reports in this process: a failure here never costs the graded results."""
    try:
        write_readable_reports(result, ops, run_dir)
    except Exception as failure:
        progress(f"report.html not written: {type(failure).__name__}: {failure}")


class PendingReports:
    """Reports being rendered by a child; :meth:`wait` returns once they are written (or failed)."""

    def __init__(self, process: subprocess.Popen[bytes] | None, progress: Progress) -> None:
        self._process = process
        self._progress = progress

    def wait(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            _, stderr = process.communicate(timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
            self._progress(f"report.html not written: rendering took over {RENDER_TIMEOUT_S:.0f}s")
            return
        if process.returncode != 0:
            lines = stderr.decode("utf-8", "replace").strip().splitlines()
            self._progress(f"report.html not written: {lines[-1] if lines else f'exit {process.returncode}'}")


class ReportRenderer:
    """A render child waiting for its run (or none: then :meth:`render` writes in this process)."""

    def __init__(self, process: subprocess.Popen[bytes] | None) -> None:
        self._process = process

    @classmethod
    def start(cls) -> ReportRenderer:
        try:
            process = subprocess.Popen(CHILD, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
        except OSError:
            return cls(None)
        return cls(process)

    def render(self, result: RunResult, ops: Sequence[Op], run_dir: Path,
               progress: Progress) -> PendingReports:
        """Reports of the graded run in ``run_dir`` (its ``results.json`` and history written)."""
        process, self._process = self._process, None
        if process is not None and process.stdin is not None:
            try:
                process.stdin.write(json.dumps(str(run_dir)).encode() + b"\n")
                process.stdin.close()
                process.stdin = None  # handed over: communicate() must not flush it
                return PendingReports(process, progress)
            except OSError:  # the child died before its run came
                process.kill()
                process.wait()
        write_readable(result, ops, run_dir, progress)
        return PendingReports(None, progress)

    def cancel(self) -> None:
        """No run for the child: it exits having written nothing."""
        process, self._process = self._process, None
        if process is None:
            return
        process.kill()
        process.wait()
        if process.stderr is not None:
            process.stderr.close()
        if process.stdin is not None:
            process.stdin.close()


DONE = PendingReports(None, lambda line: None)
"""Reports already written (or none to write)."""
