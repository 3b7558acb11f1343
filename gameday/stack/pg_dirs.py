"""Where the Postgres server's files go when it runs as another user: reachable, and nothing widened.

As root, Postgres runs as the system user ``embedded_postgres`` (it refuses root), which must be
able to enter every directory on the way to its data. The harness never changes the mode of a
directory it did not create. The directories it creates on the way are made 0711 (enter, not
list). When a directory it did not create closes the way (a pytest ``tmp_path`` is 0700, and so
may be a ``--reports`` directory), the data directory is made instead in the harness's own
directory under a base every user may enter (:data:`BASES`):
``<base>/gameday-postgres-<uid>/postgres-<pid>-<start ticks>/<name>-XXXX/data``, each level 0711
and the harness's, and the path asked for becomes a symlink to it.

A relocated data directory is removed once the symlink to it is gone (the run's scratch removed),
at the latest when the harness exits; after a harness killed with SIGKILL, by the next harness
that places a data directory (its ``postgres-<pid>-<ticks>`` names a process that is gone).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path

from gameday.stack.errors import ServiceStartError
from gameday.stack.process import process_start_ticks

__all__ = ["BASES", "closed_on_the_way", "make_parents", "place_data_dir", "release_data_dir",
           "sweep_relocated"]

logger = logging.getLogger(__name__)

BASES = (Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))
"""Where a relocated data directory may go, in order of preference (the first the server can enter)."""
_LINK_FILE = "link"  # in a relocated directory: the path of the symlink that names it


def _enterable(info: os.stat_result, account: pwd.struct_passwd) -> bool:
    """Whether ``account`` may search a directory (it runs with its own group only, no others)."""
    if info.st_uid == account.pw_uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == account.pw_gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def closed_on_the_way(path: Path, account: pwd.struct_passwd) -> Path | None:
    """The first existing directory on the way to ``path`` (``path`` included), from ``/`` down, that
    ``account`` may not enter, as written and once symlinks are resolved; ``None`` if there is none."""
    absolute = Path(os.path.abspath(path))
    for route in (absolute, absolute.resolve()):
        for directory in reversed([route, *route.parents]):
            try:
                info = directory.stat()
            except OSError:
                break  # not made yet: the harness makes it (make_parents)
            if not _enterable(info, account):
                return directory
    return None


def _describe(directory: Path) -> str:
    info = directory.stat()
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    return f"{directory} (mode {stat.S_IMODE(info.st_mode):04o}, owner {owner})"


def make_parents(path: Path) -> None:
    """The missing directories on the way to ``path`` (not ``path`` itself), each made 0711: the
    harness's own, which the server user may pass through. Existing directories are left as they are."""
    missing = []
    for parent in Path(os.path.abspath(path)).parents:
        if parent.exists():
            break
        missing.append(parent)
    for directory in reversed(missing):
        try:
            directory.mkdir()
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours to change
        directory.chmod(0o711)  # the mode, whatever the umask


def _own_directory(path: Path) -> Path:
    """``path`` made 0711, or proven a real directory of this user's (never a symlink or someone else's
    directory in a shared place like /tmp)."""
    try:
        path.mkdir()
    except FileExistsError:
        pass
    else:
        path.chmod(0o711)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a directory owned by this user")
    return path


def _harness_prefix() -> str:
    return f"postgres-{os.getpid()}-{process_start_ticks(os.getpid())}"


@functools.cache
def _harness_dir(base: Path, pid: int) -> Path:
    """This harness's directory under ``base`` (made once per process, removed when it exits)."""
    directory = _own_directory(_own_directory(base / f"gameday-postgres-{os.getuid()}") / _harness_prefix())
    atexit.register(shutil.rmtree, directory, True)
    return directory


def _base_for(account: pwd.struct_passwd, wanted: Path) -> Path:
    for base in BASES:
        if base.is_dir() and closed_on_the_way(base, account) is None:
            try:
                return _harness_dir(base, os.getpid())
            except PermissionError as error:
                logger.warning("not relocating Postgres data under %s: %s", base, error)
    closed = closed_on_the_way(wanted.parent, account)
    where = _describe(closed) if closed is not None else str(wanted.parent)
    raise ServiceStartError(
        "postgres", f"the server runs as {account.pw_name}, which cannot enter {where}, and none of "
        f"{', '.join(map(str, BASES))} can take its data instead: let {account.pw_name} enter it (or choose "
        f"a scratch directory it can reach: GAMEDAY_SCRATCH=DIR)", "")


def place_data_dir(data_dir: Path, account: pwd.struct_passwd | None) -> Path:
    """Where the data directory asked for as ``data_dir`` really goes (not made yet): ``data_dir``
    itself when ``account`` (the server's user; ``None``: the harness's own) can reach it, else a
    relocated directory, ``data_dir`` then a symlink to it (see the module docstring)."""
    data_dir = Path(os.path.abspath(data_dir))
    make_parents(data_dir)
    if account is None:
        return data_dir
    sweep_relocated()
    if closed_on_the_way(data_dir.parent, account) is None:
        return data_dir
    holder = Path(tempfile.mkdtemp(prefix=f"{data_dir.name}-", dir=_base_for(account, data_dir)))
    holder.chmod(0o711)
    relocated = holder / "data"
    data_dir.symlink_to(relocated, target_is_directory=True)
    (holder / _LINK_FILE).write_text(str(data_dir))  # after the link: a holder without it is never swept
    logger.info("Postgres data for %s placed in %s: %s is closed to %s", data_dir, relocated,
                closed_on_the_way(data_dir.parent, account), account.pw_name)
    return relocated


def release_data_dir(data_dir: Path) -> None:
    """Remove ``data_dir`` and, when it is a symlink to a relocated data directory, that directory."""
    data_dir = Path(os.path.abspath(data_dir))
    if data_dir.is_symlink():
        target = Path(os.readlink(data_dir))
        data_dir.unlink()
        if (target.parent / _LINK_FILE).is_file():
            shutil.rmtree(target.parent, ignore_errors=True)
    else:
        shutil.rmtree(data_dir, ignore_errors=True)


def _abandoned(link_file: Path) -> bool:
    """A relocated directory whose symlink was removed or now points elsewhere."""
    try:
        link = Path(link_file.read_text())
        return os.readlink(link) != str(link_file.parent / "data")
    except OSError:
        return True


def sweep_relocated() -> None:
    """Remove the relocated data directories nothing names any more: this harness's whose symlink is
    gone, and every directory of a harness that is gone."""
    own = _harness_prefix()
    for base in BASES:
        root = base / f"gameday-postgres-{os.getuid()}"
        with contextlib.suppress(OSError):
            info = root.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue  # not ours: never removed from
        if not root.is_dir():
            continue
        for harness in root.glob("postgres-*"):
            if harness.name == own:
                for link_file in harness.glob(f"*/{_LINK_FILE}"):
                    if _abandoned(link_file):
                        shutil.rmtree(link_file.parent, ignore_errors=True)
            elif _harness_gone(harness.name):
                shutil.rmtree(harness, ignore_errors=True)


def _harness_gone(name: str) -> bool:
    """``postgres-<pid>-<ticks>`` names a process that no longer runs (or a new one under its PID)."""
    pid, _, ticks = name.removeprefix("postgres-").partition("-")
    if not (pid.isdigit() and ticks.isdigit()):
        return False
    return process_start_ticks(int(pid)) != int(ticks)
