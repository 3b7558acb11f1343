"""How the fast lane moves one read's worth of bytes from a socket to another.

:class:`SpliceMover` moves them inside the kernel: ``splice`` from the source socket into a
pipe, then from the pipe into the destination socket, with no copy through user space (the
lane's thread then spends less than half the CPU per byte). Bytes the destination refuses are
read back out of the pipe, which is shared by every flow of the lane and so is always left
empty. :class:`CopyMover` reads into a buffer and sends from it, where ``splice`` is missing.

Both count the bytes on the flow's :class:`~gameday.proxy.link.Traffic`; ``sent`` before the
write, as the peer may read them (and /metrics) before the call returns.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from dataclasses import dataclass
from typing import Protocol

from gameday.proxy.link import Traffic

BUFFER_SIZE = 256 * 1024  # bytes per read when copying
PIPE_SIZE = 1048576  # bytes per splice, if the system allows a pipe that large


@dataclass(frozen=True, slots=True)
class Moved:
    read: int  # bytes read from the source; 0 is the end of its stream
    refused: bytes  # read but not taken by the destination (it is full)


class Mover(Protocol):
    def move(self, src: socket.socket, dst: socket.socket, traffic: Traffic) -> Moved | None:
        """One read from ``src`` written to ``dst``; None if ``src`` had nothing to read."""

    def close(self) -> None: ...


def send_counted(dst: socket.socket, data: memoryview, traffic: Traffic) -> int:
    """Bytes of ``data`` that ``dst`` took (0 if it is full)."""
    traffic.sent += len(data)
    sent = 0
    try:
        sent = dst.send(data)
    except (BlockingIOError, InterruptedError):
        pass
    finally:
        traffic.sent -= len(data) - sent
    return sent


class CopyMover:
    def __init__(self) -> None:
        self._buffer = bytearray(BUFFER_SIZE)
        self._view = memoryview(self._buffer)

    def move(self, src: socket.socket, dst: socket.socket, traffic: Traffic) -> Moved | None:
        try:
            size = src.recv_into(self._buffer)
        except (BlockingIOError, InterruptedError):
            return None
        traffic.received += size
        data = self._view[:size]
        sent = send_counted(dst, data, traffic) if size else 0
        return Moved(size, bytes(data[sent:]))

    def close(self) -> None:
        self._view.release()


_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


class SpliceMover:
    def __init__(self) -> None:
        self._out, self._in = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._size = PIPE_SIZE
        try:
            fcntl.fcntl(self._in, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:  # over the system's pipe-max-size: keep the default
            self._size = fcntl.fcntl(self._in, fcntl.F_GETPIPE_SZ)

    def move(self, src: socket.socket, dst: socket.socket, traffic: Traffic) -> Moved | None:
        try:
            size = os.splice(src.fileno(), self._in, self._size, flags=_SPLICE_FLAGS)
        except (BlockingIOError, InterruptedError):
            return None
        if size == 0:
            return Moved(0, b"")
        traffic.received += size
        traffic.sent += size
        sent = 0
        try:
            sent = os.splice(self._out, dst.fileno(), size, flags=_SPLICE_FLAGS)
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            traffic.sent -= size - sent
            refused = self._take(size - sent)  # even on an error: the next flow uses the pipe
        return Moved(size, refused)

    def _take(self, size: int) -> bytes:
        """The ``size`` bytes left in the pipe."""
        parts = []
        while size:
            part = os.read(self._out, size)
            parts.append(part)
            size -= len(part)
        return b"".join(parts)

    def close(self) -> None:
        os.close(self._in)
        os.close(self._out)


def new_mover() -> Mover:
    """A :class:`SpliceMover` where the system has ``splice``, else a :class:`CopyMover`."""
    if hasattr(os, "splice"):
        with contextlib.suppress(OSError):
            return SpliceMover()
    return CopyMover()
