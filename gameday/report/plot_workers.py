"""Work shared among forked processes: each item's result computed in one of ``workers`` processes
(this one and ``workers - 1`` forked from it, each taking the next item off a shared queue as it
finishes one), returned in the items' order.

The plots of a report are independent and each is CPU work in the plotting library, so on a machine
with idle cores they are drawn side by side. Call this only from a process with no other thread (the
report renderer, itself just forked): a fork copies one thread, and a lock another held stays held.
A worker that cannot be forked, fails or says something unreadable leaves its items to this process
(whatever it took and did not report is done here).
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
INDEX_BYTES = 2
MAX_SHARED_ITEMS = 16_384
"""The queue is a pipe written whole before the first fork: its indices fit in its buffer (64 KiB)."""
Json = Any
"""A result: what :func:`json.dumps` writes and :func:`json.loads` reads back equal."""


def map_in_workers(items: Sequence[Item], work: Callable[[Item], Json], workers: int) -> list[Json]:
    """``[work(item) for item in items]``, shared by ``workers`` processes: each takes the next item
    as it finishes one (put the costly items first), so a costly item does not hold up a share."""
    results: dict[int, Json] = {}
    forked: list[tuple[int, int]] = []
    if workers > 1 and 1 < len(items) <= MAX_SHARED_ITEMS:
        queue_r, queue_w = os.pipe()
        os.write(queue_w, b"".join(index.to_bytes(INDEX_BYTES, "big") for index in range(len(items))))
        os.close(queue_w)  # every index is written: a reader sees the end once they are all taken
        forked = [started for _ in range(min(workers, len(items)) - 1)
                  if (started := _fork(items, queue_r, work)) is not None]
        results.update(_work_through(items, queue_r, work))
        os.close(queue_r)
    for pid, read_fd in forked:
        results.update(_collect(pid, read_fd))
    return [results[index] if index in results else work(item) for index, item in enumerate(items)]


def _work_through(items: Sequence[Item], queue_r: int, work: Callable[[Item], Json]) -> dict[int, Json]:
    """Take the next index off the queue (a pipe: one read takes one whole index) until none is left."""
    done: dict[int, Json] = {}
    while len(taken := os.read(queue_r, INDEX_BYTES)) == INDEX_BYTES:
        index = int.from_bytes(taken, "big")
        done[index] = work(items[index])
    return done


def _fork(items: Sequence[Item], queue_r: int, work: Callable[[Item], Json]) -> tuple[int, int] | None:
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:
        os.close(read_fd)
        _work_and_exit(items, queue_r, work, write_fd)
    os.close(write_fd)
    return pid, read_fd


def _collect(pid: int, read_fd: int) -> dict[int, Json]:
    """The worker's results by index; none when it did not finish (the caller does its items)."""
    with os.fdopen(read_fd, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return {}
    try:
        pairs = json.loads(payload)
        return {int(index): value for index, value in pairs}
    except (ValueError, TypeError):
        return {}


def _work_and_exit(items: Sequence[Item], queue_r: int, work: Callable[[Item], Json],
                   write_fd: int) -> NoReturn:
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        payload = json.dumps(list(_work_through(items, queue_r, work).items())).encode("utf-8")
        with contextlib.closing(os.fdopen(write_fd, "wb")) as pipe:
            pipe.write(payload)
        code = 0
    finally:  # whatever happened, never the parent's exit handlers
        os._exit(code)
