"""Stand-ins for what an acceptor connection writes to: a transport that keeps every byte."""

from __future__ import annotations


class RecordingTransport:
    """Keeps what the connection wrote and whether it closed the connection."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True
