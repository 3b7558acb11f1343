"""Loopback helpers for tests and harness self-checks.

- :func:`echo_server`: an upstream that echoes every byte back;
- :func:`upstream_server`: an upstream whose accepted connections the caller plays itself;
- :class:`ApiClient`: a thin async client of the Toxiproxy API (any 3xx/4xx/5xx is an error);
- :func:`served`, :func:`served_api`: an in-process server and an :class:`ApiClient` of it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from yarl import URL

from gameday.proxy.metrics import MetricsOptions
from gameday.proxy.server import ToxiproxyServer

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]
ACCEPT_TIMEOUT = 5.0  # s


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


class UpstreamServer:
    """Accepted connections wait in a queue until the caller takes them with :meth:`accept`."""

    def __init__(self) -> None:
        self.port = 0
        self._accepted: asyncio.Queue[Stream] = asyncio.Queue()
        self._writers: list[asyncio.StreamWriter] = []

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        await self._accepted.put((reader, writer))

    async def accept(self) -> Stream:
        """The next accepted connection, in accept order (waits at most ``ACCEPT_TIMEOUT``)."""
        return await asyncio.wait_for(self._accepted.get(), ACCEPT_TIMEOUT)

    def close_connections(self) -> None:
        for writer in self._writers:
            writer.close()


@asynccontextmanager
async def upstream_server(host: str = "127.0.0.1") -> AsyncIterator[UpstreamServer]:
    """An upstream on a free loopback port; every connection it accepted is closed at exit."""
    upstream = UpstreamServer()
    server = await asyncio.start_server(upstream._on_connect, host, 0)
    upstream.port = server.sockets[0].getsockname()[1]
    try:
        yield upstream
    finally:
        server.close()
        upstream.close_connections()


class ApiClient:
    """The Toxiproxy API at ``url``, for tests: each call asserts a 2xx answer."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.session = session

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded JSON answer (``None`` for 204)."""
        async with self.session.request(method, self.url + path, json=body) as response:
            assert response.status < 300, (method, path, response.status, await response.text())
            return await response.json() if response.status != 204 else None

    async def send(self, method: str, path: str, raw: bytes | None = None) -> tuple[int, str]:
        """Any answer, as (status, text); ``path`` is sent as written (percent-encoding kept)."""
        async with self.session.request(method, URL(self.url + path, encoded=True), data=raw) as response:
            return response.status, await response.text()

    async def create_proxy(self, name: str, upstream_port: int) -> int:
        """Create a proxy listening on a free loopback port; returns that port."""
        body = await self.call(
            "POST",
            "/proxies",
            {"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{upstream_port}"},
        )
        return int(body["listen"].rsplit(":", 1)[1])

    async def add_toxic(self, proxy: str, type_name: str, **fields: Any) -> Any:
        return await self.call("POST", f"/proxies/{proxy}/toxics", {"type": type_name, **fields})

    async def update_toxic(self, proxy: str, toxic: str, **fields: Any) -> Any:
        return await self.call("POST", f"/proxies/{proxy}/toxics/{toxic}", fields)

    async def remove_toxic(self, proxy: str, toxic: str) -> None:
        await self.call("DELETE", f"/proxies/{proxy}/toxics/{toxic}")


@asynccontextmanager
async def served(
    seed: int, *, allow_remote: bool = False, metrics: MetricsOptions | None = None
) -> AsyncIterator[tuple[ToxiproxyServer, ApiClient]]:
    """An in-process server on a free loopback port, and a client of its API."""
    server = ToxiproxyServer("127.0.0.1", 0, seed, allow_remote=allow_remote, metrics=metrics)
    async with server, aiohttp.ClientSession() as session:
        yield server, ApiClient(server.url, session)


@asynccontextmanager
async def served_api(
    seed: int, *, allow_remote: bool = False, metrics: MetricsOptions | None = None
) -> AsyncIterator[ApiClient]:
    """:func:`served`, for tests that need only the API."""
    async with served(seed, allow_remote=allow_remote, metrics=metrics) as (_, api):
        yield api


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (bound then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
