"""Run directories and what a run records of what it owns.

Every run lives in ``<reports>/<scenario>/<run-id>/``. While it runs, a registry file in
``<reports>/.active/<run-id>.json`` lists the harness and every process it started, with their
start times and programs (so a recycled PID is never mistaken for ours) and the scratch
directories to remove. A run that ends cleanly deletes its registry file; a run killed with
SIGKILL leaves it behind for the next run's reaper (:mod:`gameday.stack.reaper`).

The proxies a run creates on a Toxiproxy server are recorded in ``<reports>/.active/proxies/<run-id>.json``
before they are created, with the harness's PID and start time and the server's API token if it has
one (both files are 0600).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gameday.stack.process import ManagedProcess, process_start_ticks, program_of

logger = logging.getLogger(__name__)

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


def _make_passable(path: Path) -> None:
    """``path`` made 0711 (others may pass through, not list: the database server, which runs as
    another user as root, reaches its data inside), whatever the umask; an existing one is left as it is."""
    try:
        path.mkdir(parents=False)
    except FileExistsError:
        return
    path.chmod(0o711)  # ours: just made


def _own_directory(path: Path) -> None:
    """``path`` made (0711) or, if present, proven a real directory of ours: never a symlink or
    someone else's directory in a shared place like /dev/shm."""
    _make_passable(path)
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
        _make_passable(self.scratch)


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
        self._programs: dict[str, str | None] = {}
        """Each process's program, read once when it is added (a process the stack starts has
        exec'ed by then, and never execs again)."""
        self._harness_pid = os.getpid()
        self._harness_ticks = process_start_ticks(self._harness_pid)

    @property
    def path(self) -> Path:
        own = self._run_dir.registry_path
        return own if self._part is None else own.with_name(f"{self._run_dir.run_id}.{self._part}.json")

    def add(self, process: ManagedProcess) -> None:
        self._processes[process.spec.name] = process
        self._programs[process.spec.name] = program_of(process.pid)
        self._write()

    def remove(self, name: str) -> None:
        self._processes.pop(name, None)
        self._programs.pop(name, None)
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
                {"name": name, "pid": process.pid, "start_ticks": process.start_ticks,
                 "program": self._programs.get(name)}
                for name, process in self._processes.items()
            ],
            "scratch": [str(self._run_dir.scratch)] if self._part is None else [],
        }
        write_json_atomically(self.path, record)


def _harness() -> dict[str, int | None]:
    pid = os.getpid()
    return {"pid": pid, "start_ticks": process_start_ticks(pid)}


def write_json_atomically(path: Path, record: dict[str, Any]) -> None:
    """``record`` as ``path``, whole or not at all, readable by its owner only (0600: a proxy record
    holds the API token of its server)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)  # a .tmp a killed writer left may have had other bits
        file.write(json.dumps(record, indent=1))
    tmp.replace(path)


def proxy_record_content(run_dir: str, harness: Mapping[str, int | None], owned: Mapping[str, list[str]],
                         tokens: Mapping[str, str]) -> dict[str, Any]:
    """What a proxy record holds: the run, its harness, the proxies it owns by server URL, and the API
    token of each server that has one (only for a server it owns proxies on)."""
    return {"run_dir": run_dir, "harness": dict(harness), "proxies": dict(owned),
            "tokens": {url: token for url, token in tokens.items() if url in owned}}


@dataclass(frozen=True)
class ProxyRecord:
    """The Toxiproxy proxies a run owns, by server URL, and the API token it sends each server that
    needs one (so a later run's reaper can delete them); the file is the truth, so any number of
    records of one run agree. Written by the harness, which it names as their owner; mode 0600."""

    path: Path
    run_dir: Path

    def _read(self) -> dict[str, Any]:
        try:
            content = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return content if isinstance(content, dict) else {}

    def owned(self) -> dict[str, list[str]]:
        proxies = self._read().get("proxies")
        return proxies if isinstance(proxies, dict) else {}

    def tokens(self) -> dict[str, str]:
        """The API token recorded for each server (those without one are absent)."""
        tokens = self._read().get("tokens")
        return tokens if isinstance(tokens, dict) else {}

    def add(self, base_url: str, names: Sequence[str], token: str | None = None) -> None:
        owned, tokens = self.owned(), self.tokens()
        owned[base_url] = list(dict.fromkeys([*owned.get(base_url, []), *names]))
        if token is not None:
            tokens[base_url] = token
        self._write(owned, tokens)

    def discard(self, base_url: str, names: Sequence[str]) -> None:
        owned = self.owned()
        remaining = [name for name in owned.get(base_url, []) if name not in set(names)]
        if remaining:
            owned[base_url] = remaining
        else:
            owned.pop(base_url, None)
        self._write(owned, self.tokens())

    def _write(self, owned: dict[str, list[str]], tokens: dict[str, str]) -> None:
        if owned:
            content = proxy_record_content(str(self.run_dir), _harness(), owned, tokens)
            write_json_atomically(self.path, content)
        else:
            self.path.unlink(missing_ok=True)
