"""The readable reports (``report-data.json``, ``summary.md``, ``report.html``) off the verdict's path.

Plotting is most of a run's time after it is graded. :func:`render_in_background` forks a child that
writes the reports from the graded run and history this process holds (nothing is read or imported
twice) and returns at once, so the CLI prints the verdict while they are drawn; :meth:`PendingReports.wait`
returns once they are written. Where a child cannot be forked, they are written in this process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from gameday.history import Op
from gameday.report.pages import write_readable_reports
from gameday.report.svg import preload
from gameday.verdict import RunResult

__all__ = ["DONE", "PLOT_WORKERS", "PendingReports", "PlottingWarmup", "render_in_background",
           "write_readable"]

Progress = Callable[[str], None]
MAX_ERROR_BYTES = 1_000
PLOT_WORKERS = min(2, os.cpu_count() or 1)
"""Processes the forked renderer draws the plots in (the stack is stopped by then: its cores are free)."""


class PlottingWarmup:
    """The plotting library imported on a thread while the run does something else (its final
    capture and stop wait on other processes), so the renderer forked later inherits it loaded.

    :meth:`join` before forking: a fork copies only the calling thread, and an import the warm-up
    thread holds halfway would stay held in the child."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=_preload_quietly, name="gameday-plotting-warmup",
                                            daemon=True)
            self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()


def _preload_quietly() -> None:
    with contextlib.suppress(Exception):  # the renderer imports it itself, and says what failed
        preload()


def write_readable(result: RunResult, ops: Sequence[Op], run_dir: Path, progress: Progress) -> None:
    """The readable reports in this process: a failure here never costs the graded results."""
    try:
        write_readable_reports(result, ops, run_dir)
    except Exception as failure:
        progress(f"report.html not written: {_described(failure)}")


def _described(failure: Exception) -> str:
    return f"{type(failure).__name__}: {(str(failure).splitlines() or [''])[0]}"


class PendingReports:
    """Reports a forked child is writing; :meth:`wait` returns once they are written (or failed)."""

    def __init__(self, pid: int | None, errors_fd: int | None, progress: Progress) -> None:
        self._pid = pid
        self._errors_fd = errors_fd
        self._progress = progress

    def wait(self) -> None:
        pid, self._pid = self._pid, None
        if pid is None or self._errors_fd is None:
            return
        try:
            _, status = os.waitpid(pid, 0)
            error = os.read(self._errors_fd, MAX_ERROR_BYTES).decode("utf-8", "replace")
        finally:
            os.close(self._errors_fd)
        code = os.waitstatus_to_exitcode(status)
        if error or code != 0:
            self._progress(f"report.html not written: {error or f'the renderer exited {code}'}")


DONE = PendingReports(None, None, lambda line: None)
"""Reports already written (or none to write)."""


def render_in_background(result: RunResult, ops: Sequence[Op], run_dir: Path,
                         progress: Progress, warmup: PlottingWarmup | None = None) -> PendingReports:
    """Start writing the readable reports of the graded run in ``run_dir``; returns at once."""
    if warmup is not None:
        warmup.join()
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        write_readable(result, ops, run_dir, progress)
        return DONE
    if pid == 0:  # the child: render, say what failed, and leave without running the parent's exits
        os.close(read_fd)
        _render_and_exit(result, ops, run_dir, write_fd)
    os.close(write_fd)
    return PendingReports(pid, read_fd, progress)


def _render_and_exit(result: RunResult, ops: Sequence[Op], run_dir: Path, errors_fd: int) -> NoReturn:
    code = 1
    try:
        with contextlib.suppress(ValueError):  # not the main thread: no wakeup fd to clear
            signal.set_wakeup_fd(-1)  # the parent's event loop's: not this process's to wake
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        write_readable_reports(result, ops, run_dir, plot_workers=PLOT_WORKERS)
        code = 0
    except BaseException as failure:
        text = _described(failure) if isinstance(failure, Exception) else type(failure).__name__
        os.write(errors_fd, text.encode("utf-8", "replace")[:MAX_ERROR_BYTES])
    finally:
        os._exit(code)
