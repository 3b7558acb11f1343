"""A feed's WebSocket server (contracts §10): aiohttp for the handshake, reading and closing; the
feed's frames written straight to each connection's transport, whole frames at a time.

Bad input never costs the connection: a frame that is not JSON, not an object, an unknown op or
bad symbols, a binary frame, each gets an ``error`` frame. What does: a frame over
:data:`MAX_FRAME_BYTES` (aiohttp closes with 1009), a flood of requests (1008), a client that
reads too slowly for its queue (1013, then the socket is dropped :data:`SLOW_ABORT_S` later
whatever it does, so its bytes are freed), and the venue shutting down (1001). Beyond
:data:`MAX_CONNECTIONS` connections to one feed, an upgrade is refused (503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiohttp import WSCloseCode, WSMsgType, web

from mock_exchange.md.feed import Feed
from mock_exchange.md.subscriber import Subscriber

log = logging.getLogger(__name__)

PATH = "/md"
MAX_FRAME_BYTES = 64 * 1024
CLOSE_TIMEOUT_S = 2.0
SLOW_ABORT_S = 1.0
MAX_CONNECTIONS = 1_000
NOT_AN_UPGRADE = "market-data endpoint: connect with a WebSocket Upgrade request"
BINARY_FRAME = "binary frames are not read: send JSON text"


class _TransportWire:
    """A subscriber's frames into the connection's transport, while aiohttp has not closed it."""

    __slots__ = ("_transport", "_ws")

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        self._ws = ws
        self._transport = transport

    @property
    def closed(self) -> bool:
        return self._ws.closed or self._transport.is_closing()

    def write(self, data: bytes) -> None:
        self._transport.write(data)

    def buffered(self) -> int:
        return self._transport.get_write_buffer_size()

    def abort(self) -> None:
        self._transport.abort()


class FeedServer:
    """Serves one feed on its own port (``start`` / ``stop`` once)."""

    def __init__(self, feed: Feed, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.feed = feed
        self._clock = clock
        self._runner: web.AppRunner | None = None
        self._connections: dict[Subscriber, tuple[web.WebSocketResponse, asyncio.Event]] = {}
        self._closing: set[asyncio.Task[bool]] = set()
        self._aborts: dict[_TransportWire, asyncio.TimerHandle] = {}
        self._max_connections = MAX_CONNECTIONS

    async def start(self, host: str, port: int) -> int:
        """Listen; the bound port."""
        app = web.Application()
        app.router.add_get(PATH, self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        return next(int(address[1]) for address in self._runner.addresses if isinstance(address, tuple))

    async def stop(self, *, timeout_s: float = 5.0) -> None:
        """Close every connection (1001), stop listening."""
        connections = list(self._connections.items())
        for subscriber, _ in connections:
            self.feed.remove(subscriber)
        if connections:
            closes = (ws.close(code=WSCloseCode.GOING_AWAY, message=b"venue shutting down")
                      for _, (ws, _) in connections)
            await asyncio.gather(*closes, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(done.wait() for _, (_, done) in connections)),
                                       timeout_s)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        for handle in self._aborts.values():
            handle.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(timeout=CLOSE_TIMEOUT_S, max_msg_size=MAX_FRAME_BYTES, compress=False)
        if not ws.can_prepare(request).ok:
            return web.json_response({"error": NOT_AN_UPGRADE}, status=400)
        if len(self._connections) >= self._max_connections:
            return web.json_response({"error": f"feed {self.feed.name}: {self._max_connections} connections "
                                      "already; try again later"}, status=503)
        await ws.prepare(request)
        transport = request.transport
        if not isinstance(transport, asyncio.Transport):
            await ws.close(code=WSCloseCode.INTERNAL_ERROR)
            return ws
        wire = _TransportWire(ws, transport)
        subscriber = Subscriber(
            wire,
            max_queue_bytes=self.feed.config.max_queue_bytes,
            on_overflow=self._drop_slow,
            now=self._clock(),
            peer=request.remote or "",
        )
        done = asyncio.Event()
        self._connections[subscriber] = (ws, done)
        self.feed.add(subscriber)
        try:
            await self._read(subscriber, ws)
        finally:
            self.feed.remove(subscriber)
            del self._connections[subscriber]
            done.set()
        return ws

    async def _read(self, subscriber: Subscriber, ws: web.WebSocketResponse) -> None:
        while True:
            message = await ws.receive()
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                return  # closed by either side, or lost
            now = self._clock()
            if not subscriber.admit_request(now):
                log.warning("feed %s: client %s floods requests; disconnecting it", self.feed.name,
                            subscriber.peer)
                self.feed.remove(subscriber)
                await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"request flood")
                return
            if message.type is WSMsgType.TEXT:
                self._on_text(subscriber, message.data, now)
            else:
                self.feed.send_error(subscriber, BINARY_FRAME, now)

    def _on_text(self, subscriber: Subscriber, text: str, now: float) -> None:
        try:
            self.feed.on_text(subscriber, text, now)
        except Exception:
            log.exception("feed %s: request failed: %.200s", self.feed.name, text)
            self.feed.send_error(subscriber, "the feed could not process this request", now)

    def _drop_slow(self, subscriber: Subscriber) -> None:
        """A subscriber whose queue is full: close it (1013) and drop its socket soon whatever it does."""
        log.warning("feed %s: client %s reads too slowly (%d bytes waiting); disconnecting it",
                    self.feed.name, subscriber.peer, subscriber.wire.buffered())
        self.feed.remove(subscriber)
        entry = self._connections.get(subscriber)
        if entry is None:
            return
        ws, _ = entry
        loop = asyncio.get_running_loop()
        closing = loop.create_task(ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"slow consumer"))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
        wire = subscriber.wire
        if isinstance(wire, _TransportWire):
            self._aborts[wire] = loop.call_later(SLOW_ABORT_S, self._abort, wire)

    def _abort(self, wire: _TransportWire) -> None:
        self._aborts.pop(wire, None)
        wire.abort()
