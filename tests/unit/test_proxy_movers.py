"""The fast lane's movers: bytes intact and counted, the end of a stream, a full destination."""

from __future__ import annotations

import contextlib
import random
import socket
import time
from collections.abc import Iterator

import pytest

from gameday.proxy.link import Traffic
from gameday.proxy.movers import CopyMover, Moved, Mover, SpliceMover

DEADLINE = 5.0  # s
Pairs = list[tuple[socket.socket, socket.socket]]


def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """Two connected, non-blocking loopback TCP sockets."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        near = socket.create_connection(listener.getsockname())
        far, _ = listener.accept()
    for sock in (near, far):
        sock.setblocking(False)
    return near, far


@pytest.fixture(params=[CopyMover, SpliceMover], ids=["copy", "splice"])
def mover(request: pytest.FixtureRequest) -> Iterator[Mover]:
    made: Mover = request.param()
    yield made
    made.close()


@pytest.fixture
def pairs() -> Iterator[Pairs]:
    made = [tcp_pair() for _ in range(3)]
    yield made
    for near, far in made:
        near.close()
        far.close()


def move_when_readable(mover: Mover, src: socket.socket, dst: socket.socket, traffic: Traffic) -> int:
    deadline = time.monotonic() + DEADLINE
    while (moved := mover.move(src, dst, traffic)) is None:
        assert time.monotonic() < deadline, "nothing to read"
    assert moved.held == 0
    return moved.read


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    received = bytearray()
    deadline = time.monotonic() + DEADLINE
    while len(received) < size and time.monotonic() < deadline:
        try:
            received += sock.recv(size - len(received))
        except BlockingIOError:
            continue
    return bytes(received)


def fill(sock: socket.socket) -> None:
    """Write until the socket takes no more (its peer does not read)."""
    block = bytes(64 * 1024)
    while True:
        try:
            sock.send(block)
        except BlockingIOError:
            return


def test_nothing_to_read_is_none(mover: Mover, pairs: Pairs) -> None:
    (_, src), (dst, _) = pairs[0], pairs[1]
    assert mover.move(src, dst, Traffic()) is None


def test_bytes_arrive_intact_and_counted(mover: Mover, pairs: Pairs) -> None:
    (client, src), (dst, server) = pairs[0], pairs[1]
    payload = random.Random(1).randbytes(32 * 1024)  # within what the socket buffers hold
    client.setblocking(True)
    client.sendall(payload)
    traffic = Traffic()
    moved = 0
    while moved < len(payload):
        moved += move_when_readable(mover, src, dst, traffic)
    assert recv_exactly(server, len(payload)) == payload
    assert traffic == Traffic(received=len(payload), sent=len(payload))


def test_the_end_of_a_stream_reads_zero(mover: Mover, pairs: Pairs) -> None:
    (client, src), (dst, _) = pairs[0], pairs[1]
    client.shutdown(socket.SHUT_WR)
    assert move_when_readable(mover, src, dst, Traffic()) == 0


def _refused_by_a_full_destination(mover: Mover, pairs: Pairs, traffic: Traffic) -> None:
    (client, src), (full, _), _ = pairs
    fill(full)
    client.setblocking(True)
    client.sendall(b"refused bytes")
    deadline = time.monotonic() + DEADLINE
    while (moved := mover.move(src, full, traffic)) is None:
        assert time.monotonic() < deadline
    assert moved == Moved(read=13, held=13)
    assert mover.held == 13
    assert traffic == Traffic(received=13, sent=0)


def test_a_full_destination_leaves_the_bytes_held_and_take_hands_them_over(
    mover: Mover, pairs: Pairs
) -> None:
    (client, src), _, (dst, server) = pairs
    traffic = Traffic()
    _refused_by_a_full_destination(mover, pairs, traffic)
    assert mover.take() == b"refused bytes"
    assert mover.held == 0
    client.sendall(b"next")
    assert move_when_readable(mover, src, dst, Traffic()) == 4
    assert recv_exactly(server, 4) == b"next"
    with pytest.raises(BlockingIOError):
        server.recv(1)


def test_held_bytes_are_flushed_in_order_once_the_destination_reads(mover: Mover, pairs: Pairs) -> None:
    _, (full, drained), _ = pairs
    traffic = Traffic()
    _refused_by_a_full_destination(mover, pairs, traffic)
    backlog = bytearray()
    deadline = time.monotonic() + DEADLINE
    while mover.flush(full, traffic):
        assert time.monotonic() < deadline, "the destination never took the held bytes"
        with contextlib.suppress(BlockingIOError):
            backlog += drained.recv(1 << 20)
    assert traffic == Traffic(received=13, sent=13)
    while not backlog.endswith(b"refused bytes"):
        assert time.monotonic() < deadline, "the held bytes never arrived"
        with contextlib.suppress(BlockingIOError):
            backlog += drained.recv(1 << 20)
    assert backlog.strip(b"\0") == b"refused bytes"
