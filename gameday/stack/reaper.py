"""The reaper: what a run killed with SIGKILL left behind, removed by the next run.

It trusts a registry entry (gameday.stack.rundir) only while it is provably the run's own: a
process running the recorded program since the recorded start time, a scratch directory inside
the reports root or the scratch root under the run's own id, shared-memory segments those
processes created. The proxies recorded on a Toxiproxy server are deleted once their harness is
provably gone, from the server they were recorded on (sending the API token recorded for it, if
any), and no other proxy; those a server will not delete (it refused the token) are reported in
:attr:`Reaped.refused` and forgotten. Postgres data placed
outside the scratch (:mod:`gameday.stack.pg_dirs`) is removed once its harness is gone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib import error, request
from urllib.parse import quote

import psutil

from gameday.stack.pg_dirs import sweep_relocated
from gameday.stack.process import alive_as_recorded, process_start_ticks, program_of
from gameday.stack.rundir import default_scratch_root, proxy_record_content, write_json_atomically
from gameday.stack.sysv_shm import release_orphaned_segments, started_epoch_s

__all__ = ["REAP_TIMEOUT_S", "Reaped", "reap_stale_runs"]

logger = logging.getLogger(__name__)

REAP_TIMEOUT_S = 2.0
"""Bound on each request the reaper sends to a Toxiproxy server, and on each wait for what it killed."""


@dataclass(frozen=True)
class Reaped:
    run_dir: str
    killed: tuple[str, ...]
    proxies: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    """The recorded proxies a server would not delete, each with why (e.g. its API token refused)."""


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
REFUSED = (401, 403)
"""What a server answers a request whose token it does not take (ours: 401)."""


@dataclass
class _Deletion:
    """One server's recorded proxies: those deleted, those to try again later (it did not answer),
    and why the others were not (the server refused the recorded token, or another error)."""

    deleted: list[str] = field(default_factory=list)
    retry: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _delete_proxies(base_url: str, names: list[str], token: str | None) -> _Deletion:
    """Delete ``names`` on ``base_url``, sending ``token`` (the one the run recorded) if any."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    outcome = _Deletion()
    for index, name in enumerate(names):
        deletion = request.Request(f"{base_url}/proxies/{quote(name, safe='')}", method="DELETE",
                                   headers=headers)
        try:
            _NO_PROXY.open(deletion, timeout=REAP_TIMEOUT_S).close()
        except error.HTTPError as exc:
            if exc.code in REFUSED:
                why = "the recorded API token was refused" if token else "the server needs an API token"
                outcome.refused.append(f"{name} on {base_url}: HTTP {exc.code} ({why})")
            elif exc.code != 404:
                outcome.refused.append(f"{name} on {base_url}: HTTP {exc.code}")
            continue
        except (OSError, HTTPException, ValueError) as exc:
            reason = exc.reason if isinstance(exc, error.URLError) else exc
            if isinstance(reason, ConnectionRefusedError | ValueError):
                return outcome  # no server there: every proxy it held is gone with it
            logger.warning("toxiproxy %s unreachable (%s): %d proxies left for a later run",
                           base_url, reason, len(names) - index)
            outcome.retry = names[index:]
            return outcome
        outcome.deleted.append(name)
    return outcome


@dataclass(frozen=True)
class _RecordedProxies:
    run_dir: str
    pid: int
    start_ticks: int | None
    owned: dict[str, list[str]]
    tokens: dict[str, str]

    @classmethod
    def read(cls, path: Path) -> _RecordedProxies | None:
        """``None`` if the file is not a record (it is written atomically, so never half-written)."""
        try:
            record = json.loads(path.read_text())
            harness = record["harness"]
            owned = {str(url): [str(name) for name in names] for url, names in record["proxies"].items()}
            tokens = {str(url): str(token) for url, token in record.get("tokens", {}).items()}
            return cls(str(record.get("run_dir", "")), int(harness["pid"]), harness["start_ticks"],
                       owned, tokens)
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
    refused: list[str] = []
    left: dict[str, list[str]] = {}
    for base_url, names in record.owned.items():
        outcome = _delete_proxies(base_url, names, record.tokens.get(base_url))
        deleted += outcome.deleted
        refused += outcome.refused
        if outcome.retry:
            left[base_url] = outcome.retry
    for problem in refused:
        logger.warning("could not delete proxy %s", problem)
    if left:
        harness = {"pid": record.pid, "start_ticks": record.start_ticks}
        write_json_atomically(path, proxy_record_content(record.run_dir, harness, left, record.tokens))
    else:
        path.unlink(missing_ok=True)
    return Reaped(run_dir=record.run_dir, killed=(), proxies=tuple(deleted), refused=tuple(refused))


def _is_scratch_of(path: Path, reports_root: Path, run_id: str) -> bool:
    """Only a run's own scratch is removed: ``<reports>/<scenario>/<run-id>/scratch`` or
    ``<scratch root>/<run-id>``, resolved (no symlink leads elsewhere)."""
    resolved = path.resolve()
    in_reports = resolved.name == "scratch" and resolved.parent.name == run_id and \
        reports_root.resolve() in resolved.parents
    root = default_scratch_root()
    on_tmpfs = root is not None and resolved.parent == root.resolve() and resolved.name == run_id
    return in_reports or on_tmpfs


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _wait_until_gone(processes: list[psutil.Process]) -> None:
    """Until each is dead (a zombie counts: it holds nothing), for at most :data:`REAP_TIMEOUT_S`;
    polled, never waited on, so a parent's own wait still sees the exit status."""
    deadline = time.monotonic() + REAP_TIMEOUT_S
    while not all(_gone(process) for process in processes) and time.monotonic() < deadline:
        time.sleep(0.02)


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
        _wait_until_gone(dying)  # a dying process may still write its scratch
        release_orphaned_segments(creators, wait_s=REAP_TIMEOUT_S)
        for scratch in record.get("scratch", []):
            if _is_scratch_of(Path(str(scratch)), reports_root, registry_path.stem):
                _remove_tree(Path(str(scratch)))
        registry_path.unlink(missing_ok=True)
        reaped.append(Reaped(run_dir=str(record.get("run_dir", "")), killed=tuple(killed),
                             proxies=() if proxies is None else proxies.proxies,
                             refused=() if proxies is None else proxies.refused))
    for record_path in sorted(proxy_records.glob("*.json")):
        if record_path.name in registries:
            continue
        orphan = _reap_proxies(record_path)
        if orphan is not None and (orphan.proxies or orphan.refused or not record_path.exists()):
            reaped.append(orphan)
    sweep_relocated()
    return reaped
