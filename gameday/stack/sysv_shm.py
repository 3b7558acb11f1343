"""System V shared-memory segments left by a service that died without cleaning up.

Postgres keeps a small System V segment for as long as its postmaster lives and removes it on a
clean shutdown; a postmaster that is SIGKILLed (a fault, or a harness killed with SIGKILL) leaves it
behind for good. A segment is released only when it is provably the run's own: created by a
process the run started (its PID), no earlier than that process started (a recycled PID's segment
is older or newer than ours only by chance, so both bounds are checked), and attached by nobody.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

SYSV_SHM_TABLE = Path("/proc/sysvipc/shm")
_IPC_RMID = 0


@dataclass(frozen=True)
class Segment:
    shmid: int
    creator_pid: int
    attached: int
    created_epoch_s: int


def parse_segments(table: str) -> list[Segment]:
    """The rows of ``/proc/sysvipc/shm`` (a header line, then whitespace-separated columns)."""
    lines = table.splitlines()
    if not lines:
        return []
    columns = lines[0].split()
    try:
        shmid, cpid, nattch, ctime = (columns.index(name) for name in ("shmid", "cpid", "nattch", "ctime"))
    except ValueError:
        return []
    segments = []
    for line in lines[1:]:
        fields = line.split()
        try:
            segments.append(Segment(int(fields[shmid]), int(fields[cpid]), int(fields[nattch]),
                                    int(fields[ctime])))
        except (IndexError, ValueError):
            continue
    return segments


def started_epoch_s(start_ticks: int) -> float:
    """A process start time recorded as clock ticks since boot (``/proc/<pid>/stat``), as epoch seconds."""
    return psutil.boot_time() + start_ticks / os.sysconf("SC_CLK_TCK")


def created_by(segments: Iterable[Segment], creators: dict[int, float]) -> list[Segment]:
    """The segments whose creator is one of ``creators`` (PID → its start, epoch seconds), created
    after that process started (a second's slack: the two clocks round differently)."""
    return [segment for segment in segments if segment.creator_pid in creators
            and segment.created_epoch_s >= creators[segment.creator_pid] - 1.0]


def orphaned(segments: Iterable[Segment], creators: dict[int, float]) -> list[Segment]:
    """The segments of ``creators`` that nobody has attached."""
    return [segment for segment in created_by(segments, creators) if segment.attached == 0]


def _remove(shmid: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.shmctl(ctypes.c_int(shmid), ctypes.c_int(_IPC_RMID), None) == 0:
        return True
    logger.warning("could not remove shared-memory segment %d: %s", shmid, os.strerror(ctypes.get_errno()))
    return False


def _read(table: Path) -> list[Segment]:
    try:
        return parse_segments(table.read_text())
    except OSError:
        return []


def release_orphaned_segments(creators: dict[int, float], table: Path = SYSV_SHM_TABLE,
                              wait_s: float = 0.0) -> list[int]:
    """Remove the orphaned segments of ``creators``; the shmids removed. Segments still attached are
    waited for up to ``wait_s`` (the processes attached to a killed server's segment are exiting
    too: Postgres backends notice their postmaster's death on their own)."""
    if not creators:
        return []
    deadline = time.monotonic() + wait_s
    segments = created_by(_read(table), creators)
    while any(segment.attached for segment in segments) and time.monotonic() < deadline:
        time.sleep(0.05)
        segments = created_by(_read(table), creators)
    return [segment.shmid for segment in segments if segment.attached == 0 and _remove(segment.shmid)]
