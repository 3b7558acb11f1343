"""Loopback helpers for tests and harness self-checks: an echo upstream and a framed client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class _Echo(asyncio.Protocol):
    def __init__(self, server: EchoServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server.connections += 1

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.write(data)

    def eof_received(self) -> bool:
        return False


class EchoServer:
    """Counts accepted connections and echoes every byte back."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0


@asynccontextmanager
async def echo_server(host: str = "127.0.0.1") -> AsyncIterator[EchoServer]:
    """An asyncio echo server on a free loopback port."""
    echo = EchoServer()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Echo(echo), host, 0)
    echo.port = server.sockets[0].getsockname()[1]
    try:
        yield echo
    finally:
        server.close()


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (bound then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
