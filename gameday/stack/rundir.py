"""Run directories and the reaper.

Every run lives in ``<reports>/<scenario>/<run-id>/``. While it runs, a registry file in
``<reports>/.active/<run-id>.json`` lists the harness and every process it started, with their
start times (so a recycled PID is never mistaken for ours) and the scratch directories to remove.
A run that ends cleanly deletes its registry file; a run killed with SIGKILL leaves it behind, and
the next run's reaper stops what it lists and removes the scratch.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gameday.stack.process import ManagedProcess, process_start_ticks


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


@dataclass
class RunDir:
    reports_root: Path
    scenario: str
    run_id: str = field(default_factory=new_run_id)

    @property
    def path(self) -> Path:
        return self.reports_root / self.scenario / self.run_id

    @property
    def stack(self) -> Path:
        return self.path / "stack"

    @property
    def scratch(self) -> Path:
        """Bulky state (database files) removed when the run ends."""
        return self.path / "scratch"

    @property
    def registry_path(self) -> Path:
        return self.reports_root / ".active" / f"{self.run_id}.json"

    def create(self) -> None:
        self.stack.mkdir(parents=True, exist_ok=True)
        self.scratch.mkdir(parents=True, exist_ok=True)


class ProcessRegistry:
    """The on-disk list of what a run has started, rewritten on every change."""

    def __init__(self, run_dir: RunDir) -> None:
        self._run_dir = run_dir
        self._processes: dict[str, ManagedProcess] = {}
        self._harness_pid = os.getpid()
        self._harness_ticks = process_start_ticks(self._harness_pid)

    def add(self, process: ManagedProcess) -> None:
        self._processes[process.spec.name] = process
        self._write()

    def remove(self, name: str) -> None:
        self._processes.pop(name, None)
        self._write()

    def open(self) -> None:
        self._write()

    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._run_dir.registry_path.unlink()

    def _write(self) -> None:
        record = {
            "run_dir": str(self._run_dir.path),
            "harness": {"pid": self._harness_pid, "start_ticks": self._harness_ticks},
            "processes": [
                {"name": name, "pid": p.pid, "start_ticks": p.start_ticks}
                for name, p in self._processes.items()
            ],
            "scratch": [str(self._run_dir.scratch)],
        }
        path = self._run_dir.registry_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(path)


@dataclass(frozen=True)
class Reaped:
    run_dir: str
    killed: tuple[str, ...]


def _alive_as_recorded(pid: int, start_ticks: int | None) -> bool:
    return start_ticks is not None and process_start_ticks(pid) == start_ticks


def reap_stale_runs(reports_root: Path) -> list[Reaped]:
    """Stop the processes and remove the scratch of runs whose harness is gone."""
    reaped: list[Reaped] = []
    for registry_path in sorted((reports_root / ".active").glob("*.json")):
        try:
            record = json.loads(registry_path.read_text())
        except (OSError, json.JSONDecodeError):
            registry_path.unlink(missing_ok=True)
            continue
        harness = record.get("harness", {})
        if _alive_as_recorded(int(harness.get("pid", 0)), harness.get("start_ticks")):
            continue  # a concurrent run, still alive
        killed = []
        for entry in record.get("processes", []):
            pid = int(entry["pid"])
            if _alive_as_recorded(pid, entry.get("start_ticks")):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                killed.append(f"{entry['name']}({pid})")
        for scratch in record.get("scratch", []):
            shutil.rmtree(scratch, ignore_errors=True)
        registry_path.unlink(missing_ok=True)
        reaped.append(Reaped(run_dir=str(record.get("run_dir", "")), killed=tuple(killed)))
    return reaped
