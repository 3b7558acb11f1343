"""A harness killed while building the Postgres template leaves a half-built directory; the next
build removes it, and never one whose builder still runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gameday.stack.pg_cluster import _sweep_abandoned_builds
from gameday.stack.process import process_start_ticks


def _gone_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def test_only_the_builds_of_gone_builders_are_removed(tmp_path: Path) -> None:
    me = os.getpid()
    mine = tmp_path / f".building-{me}-{process_start_ticks(me)}"
    reused = tmp_path / f".building-{me}-1"  # our PID, another start: its builder is gone
    gone = tmp_path / f".building-{_gone_pid()}-5"
    legacy = tmp_path / f".building-{_gone_pid()}"
    template = tmp_path / "pg-template-x"
    for path in (mine, reused, gone, legacy, template):
        (path / "data").mkdir(parents=True)

    _sweep_abandoned_builds(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, template.name])
