"""A venue in a child process, and a blocking FIX client of it: what the venue, feed and
comparison benches (:mod:`bench.venue`, :mod:`bench.feeds`, :mod:`bench.venue_compare`) drive.

The client's messages are encoded with the venue's own codec, before any clock starts.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mock_exchange.config import SessionConfig, VenueConfig
from mock_exchange.fix.codec import encode
from mock_exchange.fix.session import utc_timestamps

HOST = "127.0.0.1"
SENDER = "BENCH"
ACK = b"\x01150=0\x01"
READY_TIMEOUT_S = 20.0


# -- the venue process -------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueChild:
    pid: int
    ports: dict[str, int]
    """the ports of the venue's READY line: ``fix``, ``admin``, a feed's, ..."""

    @property
    def port(self) -> int:
        return self.ports["fix"]

    def cpu_seconds(self) -> float:
        """User + system CPU time the venue process has used so far (Linux ``/proc``)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def venue_child(config: VenueConfig, root: Path, source: Path | None = None) -> Iterator[VenueChild]:
    """A venue child process run with ``config``; stopped (SIGTERM, then kill) after.

    ``source``: a directory holding another ``mock_exchange`` to run instead of this one.
    """
    config_path = root / "venue.json"
    # only what differs from the defaults, so an older venue's config model reads it too
    config_path.write_text(config.model_dump_json(exclude_defaults=True), encoding="utf-8")
    command = [sys.executable, "-m", "mock_exchange", "--config", str(config_path), "--log-level", "WARNING"]
    environment = None if source is None else {**os.environ, "PYTHONPATH": str(source)}
    # ``-m`` puts the working directory first on sys.path, before PYTHONPATH: run from ``source``
    # so its mock_exchange is the one imported, not this checkout's
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment, cwd=source)
    try:
        yield VenueChild(process.pid, _ready_ports(process))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def venue_process(root: Path, source: Path | None = None) -> contextlib.AbstractContextManager[VenueChild]:
    """A venue child that fills nothing (its FIX port and pid), as the order-entry benches need."""
    config = bench_config(root / f"ledger-{time.monotonic_ns()}.jsonl").model_copy(
        update={"fill_probability": 0.0}
    )
    return venue_child(config, root, source)


def _ready_ports(process: subprocess.Popen[str]) -> dict[str, int]:
    assert process.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"venue exited with {process.wait()} before READY")
        if line.startswith("READY"):
            return {key: int(value) for key, value in (pair.split("=", 1) for pair in line.split()[1:])}
    raise RuntimeError("venue not READY in time")


def bench_config(ledger_path: Path) -> VenueConfig:
    """One FIX session, the bench's; the venue's defaults otherwise."""
    return VenueConfig(
        fix_port=0, admin_port=0, sessions=(SessionConfig(sender_comp_id=SENDER),), ledger_path=ledger_path
    )


# -- a blocking FIX client ---------------------------------------------------------------------


def _message(msg_type: bytes, seq: int, body: list[tuple[int, bytes]]) -> bytes:
    header = [
        (35, msg_type),
        (49, SENDER.encode()),
        (56, b"MOCKEX"),
        (34, b"%d" % seq),
        (52, utc_timestamps.now()),
    ]
    return encode(header + body)


def logon_message() -> bytes:
    """The bench session's Logon (sequence 1, ResetSeqNumFlag): its first message."""
    return _message(b"A", 1, [(98, b"0"), (108, b"30"), (141, b"Y")])


def new_orders(first_seq: int, count: int, prefix: str) -> list[bytes]:
    return [
        _message(
            b"D",
            first_seq + number,
            [
                (50, b"bench"),
                (11, b"%s-%d" % (prefix.encode(), number)),
                (55, b"BTC-USD"),
                (54, b"1"),
                (38, b"1"),
                (40, b"2"),
                (44, b"1"),
                (59, b"1"),
                (60, utc_timestamps.now()),
            ],
        )
        for number in range(count)
    ]


class AckCounter:
    """Counts ExecutionReports with ExecType new in a byte stream, across chunk boundaries."""

    def __init__(self) -> None:
        self._tail = b""
        self.count = 0

    def feed(self, data: bytes) -> int:
        window = self._tail + data
        found = window.count(ACK)
        self.count += found
        self._tail = window[-(len(ACK) - 1) :]
        return found


@contextlib.contextmanager
def logged_on(port: int) -> Iterator[socket.socket]:
    sock = socket.create_connection((HOST, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.sendall(logon_message())
        received = b""
        while b"\x0135=A\x01" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("venue closed the connection at logon")
            received += chunk
        yield sock
    finally:
        sock.close()
