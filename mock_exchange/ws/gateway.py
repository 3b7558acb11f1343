"""The venue's WebSocket JSON API server (contracts §7): one aiohttp app, one loop per connection.

Bad input never costs the connection: a frame that is not JSON, an unknown ``op``, a missing
or malformed field, or a request before ``auth`` gets an error frame and the connection stays.
Only oversized frames (aiohttp closes with 1009) and slow readers (1013) lose it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiohttp import WSCloseCode, WSMessage, WSMsgType, web

from mock_exchange.book import MatchingEngine
from mock_exchange.config import VenueConfig
from mock_exchange.ledger import Ledger
from mock_exchange.refusals import RefusedLogons
from mock_exchange.ws.connection import WsConnection
from mock_exchange.ws.frames import error_frame, result_frame
from mock_exchange.ws.orders import WsOrderEntry
from mock_exchange.ws.protocol import (
    AuthRequest,
    CancelRequest,
    ErrorCode,
    FillsRequest,
    Op,
    OpenOrdersRequest,
    PingRequest,
    PlaceRequest,
    Request,
    RequestError,
    parse_request,
)
from mock_exchange.ws.sessions import WsSessions

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024
CLOSE_TIMEOUT_S = 2.0  # for the client's answer to our close frame
CLEAN_CLOSE_CODES = frozenset({WSCloseCode.OK, WSCloseCode.GOING_AWAY})
PATHS = ("/", "/ws")
NOT_AN_UPGRADE = "WebSocket endpoint: connect with an Upgrade request"
AUTH_FIRST = 'authenticate first with {"op": "auth", "account": ..., "api_key": ...}'


class WsGateway:
    """Serves the WebSocket API of one venue on its own port (``start`` / ``stop`` once)."""

    def __init__(
        self,
        config: VenueConfig,
        engine: MatchingEngine,
        ledger: Ledger,
        *,
        refusals: RefusedLogons | None = None,
        session_setup_s: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.sessions = WsSessions(config.ws_accounts, engine, ledger, refusals=refusals)
        self._session_setup_s = session_setup_s  # of a connection made now (mock_exchange.session_setup)
        self._orders = WsOrderEntry(engine, ledger, self.sessions)
        self._heartbeat_s = float(config.heartbeat_s)
        self._connections: dict[WsConnection, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen; return the bound port."""
        app = web.Application()
        for path in PATHS:
            app.router.add_get(path, self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        return next(int(address[1]) for address in self._runner.addresses if isinstance(address, tuple))

    async def stop(self, *, timeout_s: float = 5.0) -> None:
        """Close every connection (1001), wait for their sessions to end, stop listening."""
        connections = list(self._connections.items())
        if connections:
            closes = (
                connection.close(WSCloseCode.GOING_AWAY, "venue shutting down")
                for connection, _ in connections
            )
            await asyncio.gather(*closes)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(done.wait() for _, done in connections)), timeout_s)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(
            timeout=CLOSE_TIMEOUT_S, heartbeat=self._heartbeat_s, max_msg_size=MAX_FRAME_BYTES
        )
        if not ws.can_prepare(request).ok:
            return web.json_response({"error": NOT_AN_UPGRADE}, status=400)
        await ws.prepare(request)
        connection = WsConnection(ws, self.sessions.faults, peer=request.remote or "")
        done = self._connections[connection] = asyncio.Event()
        clean, text = False, "connection lost"
        try:
            await asyncio.sleep(self._session_setup_s())  # frames sent meanwhile wait, in order
            clean, text = await self._read_until_closed(connection)
        finally:
            await connection.stop_writing()
            self.sessions.end(connection, clean=clean, text=text)
            del self._connections[connection]
            done.set()
        return ws

    async def _read_until_closed(self, connection: WsConnection) -> tuple[bool, str]:
        """Handle frames until the connection ends; whether it ended cleanly, and how."""
        while True:
            message = await connection.ws.receive()
            if message.type is WSMsgType.CLOSE:
                return message.data in CLEAN_CLOSE_CODES, f"closed by the client ({message.data})"
            if message.type is WSMsgType.CLOSING:
                return True, "closed by the venue"
            if message.type in (WSMsgType.CLOSED, WSMsgType.ERROR):
                return False, "connection lost"
            self._on_message(connection, message)

    def _on_message(self, connection: WsConnection, message: WSMessage) -> None:
        if message.type is WSMsgType.TEXT:
            self._on_text(connection, message.data)
        elif message.type is WSMsgType.BINARY:
            connection.send(error_frame(ErrorCode.BAD_JSON, "binary frames are not read: send JSON text"))

    def _on_text(self, connection: WsConnection, text: str) -> None:
        if connection.account is not None:
            connection.requests += 1
        try:
            self._dispatch(connection, parse_request(text))
        except RequestError as error:
            connection.send(error_frame(error.code, error.message, error.request_id))
        except Exception:
            log.exception("WebSocket request failed: %.200s", text)
            connection.send(error_frame(ErrorCode.INTERNAL, "the venue could not process this request"))

    def _dispatch(self, connection: WsConnection, request: Request) -> None:
        if isinstance(request, AuthRequest):
            connection.send(self.sessions.authenticate(connection, request))
            return
        if isinstance(request, PingRequest):
            connection.send(result_frame(Op.PING, request.id, t_ns=time.monotonic_ns()))
            return
        account = connection.account_name
        if account is None:
            raise RequestError(ErrorCode.NOT_AUTHENTICATED, AUTH_FIRST, request.id)
        match request:
            case PlaceRequest():
                self._orders.place(connection, account, request)
            case CancelRequest():
                self._orders.cancel(connection, account, request)
            case OpenOrdersRequest():
                self._orders.open_orders(connection, account, request)
            case FillsRequest():
                self._orders.fills(connection, account, request)
