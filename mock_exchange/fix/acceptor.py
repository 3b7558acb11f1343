"""FIX 4.4 acceptor: the asyncio server running one :class:`AcceptorConnection` per TCP connection.

The session rules themselves live in :mod:`mock_exchange.fix.connection`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from mock_exchange.fault_board import FaultBoard
from mock_exchange.fix.connection import AcceptorConnection
from mock_exchange.fix.session import SessionListener, SessionRegistry, Transport
from mock_exchange.session_setup import HeldBytes

__all__ = ["AcceptorConnection", "FixServer", "SessionListener"]


class _FixProtocol(asyncio.Protocol):
    """asyncio glue: feeds bytes and timer ticks to an :class:`AcceptorConnection`."""

    def __init__(self, server: FixServer) -> None:
        self._server = server
        self._timer: asyncio.TimerHandle | None = None
        self.connection: AcceptorConnection | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._setup: HeldBytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.connection = self._server.new_connection(transport, self._reschedule, peer=_peer_host(transport))
        self._server.protocols.add(self)
        self._setup = HeldBytes(self._server.session_setup_s(), self._deliver,
                                lambda: self._overflowed(transport))
        self._schedule(self.connection.check_timers())

    def data_received(self, data: bytes) -> None:
        if self._setup is not None:
            self._setup.receive(data)

    def _deliver(self, data: bytes) -> None:
        if self.connection is not None and not self.closed.done():
            self.connection.data_received(data)

    def _overflowed(self, transport: asyncio.Transport) -> None:
        if self.connection is not None:
            self.connection.close("too much data before the session was set up")
        transport.close()

    def _reschedule(self) -> None:
        """The connection's next timer check moved (a logon, a Logout waiting for its reply)."""
        if self._timer is not None:
            self._timer.cancel()
        if self.connection is not None and not self.closed.done():
            self._schedule(self.connection.check_timers())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._setup is not None:
            self._setup.cancel()
        self._server.protocols.discard(self)
        try:
            if self.connection is not None:
                self.connection.connection_lost()
        finally:
            if not self.closed.done():
                self.closed.set_result(None)

    def _on_timer(self) -> None:
        if self.connection is not None and not self.closed.done():
            self._schedule(self.connection.check_timers())

    def _schedule(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)


class FixServer:
    """Listens for FIX connections and runs an :class:`AcceptorConnection` for each."""

    def __init__(
        self,
        registry: SessionRegistry,
        listener: SessionListener,
        *,
        default_heartbeat_s: int,
        logon_timeout_s: float,
        logout_timeout_s: float = 2.0,
        faults: FaultBoard | None = None,
        batch: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext,
        before_send: Callable[[], None] = lambda: None,
        session_setup_s: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._registry = registry
        self.session_setup_s = session_setup_s  # of a connection made now (mock_exchange.session_setup)
        self._listener = listener
        self._faults = faults
        self._batch = batch
        self._before_send = before_send
        self._default_heartbeat_s = default_heartbeat_s
        self._logon_timeout_s = logon_timeout_s
        self._logout_timeout_s = logout_timeout_s
        self._server: asyncio.Server | None = None
        self.protocols: set[_FixProtocol] = set()

    def new_connection(
        self, transport: Transport, timers_changed: Callable[[], None], *, peer: str = ""
    ) -> AcceptorConnection:
        return AcceptorConnection(
            transport,
            self._registry,
            self._listener,
            default_heartbeat_s=self._default_heartbeat_s,
            logon_timeout_s=self._logon_timeout_s,
            logout_timeout_s=self._logout_timeout_s,
            timers_changed=timers_changed,
            faults=self._faults,
            batch=self._batch,
            before_send=self._before_send,
            peer=peer,
        )

    async def start(self, host: str, port: int) -> int:
        """Start listening; return the bound port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _FixProtocol(self), host, port)
        bound_port: int = self._server.sockets[0].getsockname()[1]
        return bound_port

    async def stop(self, *, text: str = "venue shutting down", timeout_s: float = 5.0) -> None:
        """Stop accepting, log every session out, and wait for the connections to close.

        Each connection closes when its counterparty answers the Logout, or after the logout
        timeout.
        """
        if self._server is not None:
            self._server.close()
        protocols = list(self.protocols)
        for protocol in protocols:
            if protocol.connection is not None:
                protocol.connection.logout(text)
        if protocols:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(*(protocol.closed for protocol in protocols)), timeout_s
                )
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


def _peer_host(transport: asyncio.BaseTransport) -> str:
    """The remote host of a connection ("" when the transport does not say)."""
    peername = transport.get_extra_info("peername")
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return ""
