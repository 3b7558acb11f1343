"""Work shared among forked processes: each item's result computed in one of ``workers`` processes
(this one and ``workers - 1`` forked from it), returned in the items' order.

The plots of a report are independent and each is CPU work in the plotting library, so on a machine
with idle cores they are drawn side by side. Call this only from a process with no other thread (the
report renderer, itself just forked): a fork copies one thread, and a lock another held stays held.
A worker that cannot be forked, fails or says something unreadable leaves its items to this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

__all__ = ["map_in_workers"]

Item = TypeVar("Item")
Json = Any
"""A result: what :func:`json.dumps` writes and :func:`json.loads` reads back equal."""


def map_in_workers(items: Sequence[Item], work: Callable[[Item], Json], workers: int) -> list[Json]:
    """``[work(item) for item in items]``, the items dealt round-robin to ``workers`` processes."""
    shares = [list(range(first, len(items), max(workers, 1))) for first in range(max(workers, 1))]
    results: list[Json] = [None] * len(items)
    forked: list[tuple[int, int, list[int]]] = []
    for share in filter(None, shares[1:]):
        started = _fork(items, share, work)
        if started is None:
            shares[0] += share
        else:
            forked.append((*started, share))
    for index in shares[0]:
        results[index] = work(items[index])
    for pid, read_fd, share in forked:
        values = _collect(pid, read_fd, len(share))
        for index, value in zip(share, values if values is not None else (work(items[i]) for i in share),
                                strict=False):
            results[index] = value
    return results


def _fork(items: Sequence[Item], share: list[int], work: Callable[[Item], Json]) -> tuple[int, int] | None:
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:
        os.close(read_fd)
        _work_and_exit(items, share, work, write_fd)
    os.close(write_fd)
    return pid, read_fd


def _collect(pid: int, read_fd: int, expected: int) -> list[Json] | None:
    """The worker's results, or ``None`` when it did not finish its share."""
    with os.fdopen(read_fd, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    try:
        values = json.loads(payload)
    except ValueError:
        return None
    return values if isinstance(values, list) and len(values) == expected else None


def _work_and_exit(items: Sequence[Item], share: list[int], work: Callable[[Item], Json],
                   write_fd: int) -> NoReturn:
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        payload = json.dumps([work(items[index]) for index in share]).encode("utf-8")
        with contextlib.closing(os.fdopen(write_fd, "wb")) as pipe:
            pipe.write(payload)
        code = 0
    finally:  # whatever happened, never the parent's exit handlers
        os._exit(code)
