"""How the fast lane moves bytes of one flow (one direction of a connection) between sockets.

:class:`SpliceMover` moves them inside the kernel: ``splice`` from the source socket into the
flow's own pipe, then from the pipe into the destination socket, with no copy through user
space. Bytes the destination refuses stay in the pipe until it takes them (:meth:`Mover.flush`):
a bulk transfer to a slower reader never copies them out and back. :class:`CopyMover` reads into
a buffer shared by the lane's flows and keeps what the destination refused; it serves where
``splice`` is missing or a flow could not get a pipe (out of descriptors).

While a flow holds bytes the lane does not read its source (``held`` > 0). When a connection
leaves the lane, :meth:`Mover.take` hands the held bytes over, in order.

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
PIPE_SIZE = 1048576  # a flow's pipe, if the system allows one that large


@dataclass(frozen=True, slots=True)
class Moved:
    read: int  # bytes read from the source; 0 is the end of its stream
    held: int  # of those, bytes the destination refused (it is full), held by the mover


class Mover(Protocol):
    @property
    def held(self) -> int:
        """Bytes read and not yet taken by the destination."""

    def move(self, src: socket.socket, dst: socket.socket, traffic: Traffic) -> Moved | None:
        """One read from ``src`` written to ``dst``; None if ``src`` had nothing to read.
        Only called while nothing is held."""

    def flush(self, dst: socket.socket, traffic: Traffic) -> int:
        """Write held bytes to ``dst``; the bytes still held."""

    def take(self) -> bytes:
        """The held bytes, no longer held."""

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
    def __init__(self, buffer: bytearray | None = None) -> None:
        self._buffer = buffer if buffer is not None else bytearray(BUFFER_SIZE)
        self._view = memoryview(self._buffer)
        self._pending = memoryview(b"")

    @property
    def held(self) -> int:
        return len(self._pending)

    def move(self, src: socket.socket, dst: socket.socket, traffic: Traffic) -> Moved | None:
        try:
            size = src.recv_into(self._buffer)
        except (BlockingIOError, InterruptedError):
            return None
        traffic.received += size
        data = self._view[:size]
        sent = send_counted(dst, data, traffic) if size else 0
        self._pending = memoryview(bytes(data[sent:]))
        return Moved(size, size - sent)

    def flush(self, dst: socket.socket, traffic: Traffic) -> int:
        sent = send_counted(dst, self._pending, traffic)
        self._pending = self._pending[sent:]
        return len(self._pending)

    def take(self) -> bytes:
        held, self._pending = bytes(self._pending), memoryview(b"")
        return held

    def close(self) -> None:
        self._pending = memoryview(b"")
        self._view.release()


_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


class SpliceMover:
    def __init__(self) -> None:
        self._out, self._in = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            self._size = fcntl.fcntl(self._in, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:  # over the system's pipe-max-size: keep the default
            self._size = fcntl.fcntl(self._in, fcntl.F_GETPIPE_SZ)
        self._held = 0

    @property
    def held(self) -> int:
        return self._held

    def move(self, src: socket.socket, dst: socket.socket, traffic: Traffic) -> Moved | None:
        try:
            size = os.splice(src.fileno(), self._in, self._size, flags=_SPLICE_FLAGS)
        except (BlockingIOError, InterruptedError):
            return None
        if size == 0:
            return Moved(0, 0)
        traffic.received += size
        self._held = size
        return Moved(size, self.flush(dst, traffic))

    def flush(self, dst: socket.socket, traffic: Traffic) -> int:
        held = self._held
        traffic.sent += held
        sent = 0
        try:
            sent = os.splice(self._out, dst.fileno(), held, flags=_SPLICE_FLAGS)
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            traffic.sent -= held - sent
            self._held = held - sent
        return self._held

    def take(self) -> bytes:
        parts = []
        while self._held:
            part = os.read(self._out, self._held)
            parts.append(part)
            self._held -= len(part)
        return b"".join(parts)

    def close(self) -> None:
        os.close(self._in)
        os.close(self._out)


def new_mover(buffer: bytearray) -> Mover:
    """A :class:`SpliceMover` where the system has ``splice`` and a pipe is to be had, else a
    :class:`CopyMover` reading into ``buffer`` (shared by the flows of one thread)."""
    if hasattr(os, "splice"):
        with contextlib.suppress(OSError):
            return SpliceMover()
    return CopyMover(buffer)
