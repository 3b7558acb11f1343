"""One connection to a feed: what it subscribed to, and its bounded queue of bytes.

Frames go straight to the connection's transport (:class:`Wire`); the transport's write buffer is
the subscriber's queue. Once what waits there would pass ``max_queue_bytes`` the subscriber is
dropped (``on_overflow``), as a real feed drops a slow consumer: a client that stops reading never
holds more than that much of the venue's memory. Requests are counted in a token bucket: a client
that sends more than :data:`REQUEST_BURST` at once, or more than :data:`REQUESTS_PER_S` a second
for long, is a flood and is disconnected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

REQUESTS_PER_S = 20.0
REQUEST_BURST = 50.0


class Wire(Protocol):
    """Where a subscriber's frames go (the socket under aiohttp's WebSocket, or a test's list)."""

    @property
    def closed(self) -> bool:
        """No data frame may be written any more (a close frame went out, or the socket is gone)."""
        ...

    def write(self, data: bytes) -> None: ...

    def buffered(self) -> int:
        """Bytes written and not yet taken by the socket."""
        ...


class Subscriber:
    """A feed's view of one connection."""

    def __init__(
        self,
        wire: Wire,
        *,
        max_queue_bytes: int,
        on_overflow: Callable[[Subscriber], None],
        now: float,
        peer: str = "",
    ) -> None:
        self.wire = wire
        self.peer = peer
        self.symbols: frozenset[str] = frozenset()
        """the symbols it gets updates of: none until it subscribes"""
        self.pending_snapshots: set[str] = set()
        """snapshots asked for while the feed was stalled, sent when it heals"""
        self.last_write = now
        self.gone = False
        self.bytes_written = 0
        self._max_queue_bytes = max_queue_bytes
        self._on_overflow = on_overflow
        self._tokens = REQUEST_BURST
        self._refilled = now

    def write(self, data: bytes, now: float) -> None:
        """Queue ``data`` (whole frames); a subscriber whose queue would overflow is dropped instead."""
        if self.gone:
            return
        if self.wire.closed:
            self.gone = True
            return
        if self.wire.buffered() + len(data) > self._max_queue_bytes:
            self.gone = True
            self._on_overflow(self)
            return
        self.wire.write(data)
        self.bytes_written += len(data)
        self.last_write = now

    def admit_request(self, now: float) -> bool:
        """Count one request; ``False`` once the client floods (it is to be disconnected)."""
        self._tokens = min(REQUEST_BURST, self._tokens + (now - self._refilled) * REQUESTS_PER_S)
        self._refilled = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
