"""``read_source``: a scenario's text, read from a regular file of bounded size, never blocking.

``Path.read_text`` reads whatever the path names to its end: ``/dev/zero`` never ends, a FIFO blocks
until a writer comes, a symlink to a 10 GB log fills the memory. Here the path is checked with
``os.stat`` before it is opened (a regular file, at most :data:`MAX_FILE_BYTES`), opened with
``O_NONBLOCK`` (a FIFO swapped in meanwhile cannot block the open) and checked again by ``fstat``,
and at most one byte past the limit is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gameday.errors import ScenarioError, ScenarioProblem
from gameday.scenario.limits import MAX_FILE_BYTES

__all__ = ["read_source"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_CHUNK = 1 << 16


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _size(count: int) -> str:
    return f"{count / (1 << 20):.1f} MiB" if count >= 1 << 20 else f"{count} bytes"


def read_source(path: Path | str, *, file: str | None = None, limit: int = MAX_FILE_BYTES,
                error: type[ScenarioError] = ScenarioError) -> str:
    """The UTF-8 text of the regular file ``path``; raises ``error`` (one problem, no line) when it
    cannot be read, is not a regular file, is larger than ``limit`` bytes or is not UTF-8."""
    name = str(path) if file is None else file

    def refused(message: str) -> ScenarioError:
        return error(name, [ScenarioProblem(name, None, "", message)])

    def check(status: os.stat_result) -> None:
        if not stat.S_ISREG(status.st_mode):
            raise refused(f"cannot read the file: expected a regular file, got {_kind(status.st_mode)}")
        if status.st_size > limit:
            raise refused(f"the file is {_size(status.st_size)}; expected at most {_size(limit)}")

    try:
        check(os.stat(path))
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            check(os.fstat(descriptor))
            data = _read_at_most(descriptor, limit + 1)
        finally:
            os.close(descriptor)
    except OSError as failure:
        raise refused(f"cannot read the file: {failure.strerror or failure}") from None
    if len(data) > limit:  # it grew after the stat
        raise refused(f"the file is larger than {_size(limit)}; expected at most {_size(limit)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as failure:
        raise refused(f"expected UTF-8 text: {failure.reason} at byte {failure.start}") from None


def _read_at_most(descriptor: int, count: int) -> bytes:
    chunks: list[bytes] = []
    left = count
    while left > 0:
        chunk = os.read(descriptor, min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
