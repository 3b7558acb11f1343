"""The ledger file's writer: every line handed to the OS before the venue answers anyone.

Outside a batch each line is one ``os.write``. Inside a batch (the FIX acceptor handling one
read's worth of messages, whose answers it holds until the batch ends) the lines wait in a list
and reach the OS in one ``os.write`` when the batch ends, or earlier through :meth:`flush` when
something is about to be sent anyway. Nothing is buffered across batches, so a venue killed
with SIGKILL loses no line it has answered for.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType


class LedgerFile:
    """Appends lines to one file; ``with ledger_file:`` is a batch (batches nest)."""

    __slots__ = ("_batches", "_fd", "_pending")

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._pending: list[str] = []
        self._batches = 0

    def write(self, line: str) -> None:
        """Append ``line`` (ASCII, newline-terminated): now, or when the batch ends."""
        if self._batches:
            self._pending.append(line)
        else:
            _write_all(self._fd, line.encode())

    def flush(self) -> None:
        """Hand the lines held by the current batch to the OS now."""
        if self._pending:
            data = "".join(self._pending).encode()
            self._pending.clear()
            _write_all(self._fd, data)

    def close(self) -> None:
        self.flush()
        os.close(self._fd)

    def __enter__(self) -> None:
        self._batches += 1

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._batches -= 1
        if not self._batches:
            self.flush()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
