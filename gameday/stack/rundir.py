"""Run directories and the reaper.

Every run lives in ``<reports>/<scenario>/<run-id>/``. While it runs, a registry file in
``<reports>/.active/<run-id>.json`` lists the harness and every process it started, with their
start times (so a recycled PID is never mistaken for ours) and the scratch directories to remove.
A run that ends cleanly deletes its registry file; a run killed with SIGKILL leaves it behind, and
the next run's reaper stops what it lists and removes the scratch.

The proxies a run creates on a Toxiproxy server are recorded in ``<reports>/.active/proxies/<run-id>.json``
before they are created, with the harness's PID and start time; the reaper deletes those of a
harness that is provably gone, from the server they were recorded on, and no other proxy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib import error, request
from urllib.parse import quote

import psutil

from gameday.stack.process import ManagedProcess, process_start_ticks
from gameday.stack.sysv_shm import release_orphaned_segments, started_epoch_s

logger = logging.getLogger(__name__)

REAP_TIMEOUT_S = 2.0
"""Bound on each request the reaper sends to a Toxiproxy server, and on each wait for what it killed."""


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


SHM = Path("/dev/shm")
MIN_SHM_FREE_BYTES = 2 << 30
SCRATCH_ENV = "GAMEDAY_SCRATCH"
"""``disk`` keeps scratch beside the run; a directory puts it there; unset: tmpfs when it has room."""


def default_scratch_root() -> Path | None:
    """Where runs keep bulky, throw-away state (database files, JetStream): a per-user directory on
    tmpfs when ``/dev/shm`` has room (creating files on the machine's disk costs ~0.5 ms each),
    else ``None`` (beside the run, on disk)."""
    chosen = os.environ.get(SCRATCH_ENV)
    if chosen == "disk":
        return None
    if chosen:
        return Path(chosen)
    try:
        fs = os.statvfs(SHM)
    except OSError:
        return None
    if fs.f_bavail * fs.f_frsize < MIN_SHM_FREE_BYTES:
        return None
    return SHM / f"gameday-{os.getuid()}"


def _own_directory(path: Path) -> None:
    """``path`` made (0711: others may pass through, not list) or, if present, proven a real
    directory of ours: never a symlink or someone else's directory in a shared place like /dev/shm."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o711, parents=False)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory owned by this user; refusing to use it for scratch")


@dataclass
class RunDir:
    reports_root: Path
    scenario: str
    run_id: str = field(default_factory=new_run_id)
    scratch_root: Path | None = field(default_factory=default_scratch_root)

    @property
    def path(self) -> Path:
        return self.reports_root / self.scenario / self.run_id

    @property
    def stack(self) -> Path:
        return self.path / "stack"

    @property
    def scratch(self) -> Path:
        """Bulky state (database files) removed when the run ends: on tmpfs when there is room."""
        return self.path / "scratch" if self.scratch_root is None else self.scratch_root / self.run_id

    @property
    def registry_path(self) -> Path:
        return self.reports_root / ".active" / f"{self.run_id}.json"

    @property
    def proxy_record(self) -> ProxyRecord:
        return ProxyRecord(self.reports_root / ".active" / "proxies" / f"{self.run_id}.json", self.path)

    def create(self) -> None:
        self.stack.mkdir(parents=True, exist_ok=True)
        if self.scratch_root is not None:
            _own_directory(self.scratch_root)
        self.scratch.mkdir(mode=0o711, exist_ok=True)


class ProcessRegistry:
    """The on-disk list of what a run has started, rewritten on every change.

    A ``part`` is a second list of the same run, kept apart from the stack's (e.g. the load child's,
    ``<run-id>.load.json``): the reaper stops what it names and leaves the run's scratch to the
    stack's own list.
    """

    def __init__(self, run_dir: RunDir, part: str | None = None) -> None:
        self._run_dir = run_dir
        self._part = part
        self._processes: dict[str, ManagedProcess] = {}
        self._harness_pid = os.getpid()
        self._harness_ticks = process_start_ticks(self._harness_pid)

    @property
    def path(self) -> Path:
        own = self._run_dir.registry_path
        return own if self._part is None else own.with_name(f"{self._run_dir.run_id}.{self._part}.json")

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
            self.path.unlink()

    def _write(self) -> None:
        record = {
            "run_dir": str(self._run_dir.path),
            "harness": {"pid": self._harness_pid, "start_ticks": self._harness_ticks},
            "processes": [
                {"name": name, "pid": p.pid, "start_ticks": p.start_ticks, "program": program_of(p.pid)}
                for name, p in self._processes.items()
            ],
            "scratch": [str(self._run_dir.scratch)] if self._part is None else [],
        }
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1))
        tmp.replace(path)


def _harness() -> dict[str, int | None]:
    pid = os.getpid()
    return {"pid": pid, "start_ticks": process_start_ticks(pid)}


def _write_json(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)


@dataclass(frozen=True)
class ProxyRecord:
    """The Toxiproxy proxies a run owns, by server URL; the file is the truth, so any number of
    records of one run agree. Written by the harness, which it names as their owner."""

    path: Path
    run_dir: Path

    def owned(self) -> dict[str, list[str]]:
        try:
            proxies: dict[str, list[str]] = json.loads(self.path.read_text())["proxies"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return proxies

    def add(self, base_url: str, names: Sequence[str]) -> None:
        owned = self.owned()
        owned[base_url] = list(dict.fromkeys([*owned.get(base_url, []), *names]))
        self._write(owned)

    def discard(self, base_url: str, names: Sequence[str]) -> None:
        owned = self.owned()
        remaining = [name for name in owned.get(base_url, []) if name not in set(names)]
        if remaining:
            owned[base_url] = remaining
        else:
            owned.pop(base_url, None)
        self._write(owned)

    def _write(self, owned: dict[str, list[str]]) -> None:
        if owned:
            _write_json(self.path, {"run_dir": str(self.run_dir), "harness": _harness(), "proxies": owned})
        else:
            self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Reaped:
    run_dir: str
    killed: tuple[str, ...]
    proxies: tuple[str, ...] = ()


def alive_as_recorded(pid: int, start_ticks: int | None) -> bool:
    return start_ticks is not None and process_start_ticks(pid) == start_ticks


def program_of(pid: int) -> str | None:
    """The program a process runs (the first word of its command line), ``None`` if it is gone."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return cmdline.split(b"\0", 1)[0].decode(errors="replace") or None


def _ours(entry: dict[str, Any]) -> bool:
    """A recorded process still running as recorded: same start time, same program (when recorded)."""
    pid = int(entry["pid"])
    if not alive_as_recorded(pid, entry.get("start_ticks")):
        return False
    recorded = entry.get("program")
    return recorded is None or program_of(pid) == recorded


def _provably_gone(pid: int, start_ticks: int | None) -> bool:
    """No such process, or one started at another time than recorded (its PID reused)."""
    current = process_start_ticks(pid)
    if current is not None:
        return start_ticks is not None and current != start_ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


_NO_PROXY = request.build_opener(request.ProxyHandler({}))


def _delete_proxies(base_url: str, names: list[str]) -> tuple[list[str], list[str]]:
    """The proxies deleted, and those to try again later (the server did not answer)."""
    deleted: list[str] = []
    for index, name in enumerate(names):
        try:
            _NO_PROXY.open(request.Request(f"{base_url}/proxies/{quote(name, safe='')}", method="DELETE"),
                           timeout=REAP_TIMEOUT_S).close()
        except error.HTTPError as exc:
            if exc.code != 404:
                logger.warning("could not delete proxy %s on %s: HTTP %s", name, base_url, exc.code)
            continue
        except (OSError, HTTPException, ValueError) as exc:
            reason = exc.reason if isinstance(exc, error.URLError) else exc
            if isinstance(reason, ConnectionRefusedError | ValueError):
                return deleted, []  # no server there: every proxy it held is gone with it
            logger.warning("toxiproxy %s unreachable (%s): %d proxies left for a later run",
                           base_url, reason, len(names) - index)
            return deleted, names[index:]
        deleted.append(name)
    return deleted, []


@dataclass(frozen=True)
class _RecordedProxies:
    run_dir: str
    pid: int
    start_ticks: int | None
    owned: dict[str, list[str]]

    @classmethod
    def read(cls, path: Path) -> _RecordedProxies | None:
        """``None`` if the file is not a record (it is written atomically, so never half-written)."""
        try:
            record = json.loads(path.read_text())
            harness = record["harness"]
            owned = {str(url): [str(name) for name in names] for url, names in record["proxies"].items()}
            return cls(str(record.get("run_dir", "")), int(harness["pid"]), harness["start_ticks"], owned)
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _reap_proxies(path: Path) -> Reaped | None:
    """Delete the proxies in a record whose harness is gone; ``None`` if the harness may live."""
    try:
        record = _RecordedProxies.read(path)
    except OSError:
        return None
    if record is None:
        logger.warning("unreadable proxy record %s removed", path)
        path.unlink(missing_ok=True)
        return None
    if not _provably_gone(record.pid, record.start_ticks):
        return None
    deleted: list[str] = []
    left: dict[str, list[str]] = {}
    for base_url, names in record.owned.items():
        gone, kept = _delete_proxies(base_url, names)
        deleted += gone
        if kept:
            left[base_url] = kept
    if left:
        harness = {"pid": record.pid, "start_ticks": record.start_ticks}
        _write_json(path, {"run_dir": record.run_dir, "harness": harness, "proxies": left})
    else:
        path.unlink(missing_ok=True)
    return Reaped(run_dir=record.run_dir, killed=(), proxies=tuple(deleted))


def _is_scratch_of(path: Path, reports_root: Path, run_id: str) -> bool:
    """Only a run's own scratch is removed: ``<reports>/<scenario>/<run-id>/scratch`` or
    ``<scratch root>/<run-id>``, resolved (no symlink leads elsewhere)."""
    resolved = path.resolve()
    in_reports = resolved.name == "scratch" and resolved.parent.name == run_id and \
        reports_root.resolve() in resolved.parents
    root = default_scratch_root()
    on_tmpfs = root is not None and resolved.parent == root.resolve() and resolved.name == run_id
    return in_reports or on_tmpfs


def _remove_tree(path: Path) -> None:
    """Remove ``path``, again while the processes that wrote in it finish dying (a Postgres backend
    outlives its killed postmaster for a moment), for at most :data:`REAP_TIMEOUT_S`."""
    deadline = time.monotonic() + REAP_TIMEOUT_S
    shutil.rmtree(path, ignore_errors=True)
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
        shutil.rmtree(path, ignore_errors=True)


def reap_stale_runs(reports_root: Path) -> list[Reaped]:
    """Delete the recorded proxies, stop the processes and remove the scratch of runs whose
    harness is gone."""
    reaped: list[Reaped] = []
    proxy_records = reports_root / ".active" / "proxies"
    registries = {path.name for path in (reports_root / ".active").glob("*.json")}
    for registry_path in sorted((reports_root / ".active").glob("*.json")):
        try:
            record = json.loads(registry_path.read_text())
        except (OSError, json.JSONDecodeError):
            registry_path.unlink(missing_ok=True)
            continue
        harness = record.get("harness", {})
        if alive_as_recorded(int(harness.get("pid", 0)), harness.get("start_ticks")):
            continue  # a concurrent run, still alive
        proxies = _reap_proxies(proxy_records / registry_path.name)
        killed, dying = [], []
        creators: dict[int, float] = {}
        for entry in record.get("processes", []):
            pid = int(entry["pid"])
            if _ours(entry):
                with contextlib.suppress(psutil.Error):
                    dying.append(psutil.Process(pid))
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                killed.append(f"{entry['name']}({pid})")
            if isinstance(entry.get("start_ticks"), int):
                creators[pid] = started_epoch_s(entry["start_ticks"])
        psutil.wait_procs(dying, timeout=REAP_TIMEOUT_S)  # a dying process may still write its scratch
        release_orphaned_segments(creators, wait_s=REAP_TIMEOUT_S)
        for scratch in record.get("scratch", []):
            if _is_scratch_of(Path(str(scratch)), reports_root, registry_path.stem):
                _remove_tree(Path(str(scratch)))
        registry_path.unlink(missing_ok=True)
        reaped.append(Reaped(run_dir=str(record.get("run_dir", "")), killed=tuple(killed),
                             proxies=() if proxies is None else proxies.proxies))
    for record_path in sorted(proxy_records.glob("*.json")):
        if record_path.name in registries:
            continue
        orphan = _reap_proxies(record_path)
        if orphan is not None and (orphan.proxies or not record_path.exists()):
            reaped.append(orphan)
    return reaped
