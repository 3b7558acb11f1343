"""A proxy: a listener on ``listen`` forwarding every accepted connection to ``upstream``."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator
from typing import Any

from gameday.proxy.collection import ToxicCollection
from gameday.proxy.connection import Connection, split_host_port
from gameday.proxy.link import Direction, Link, Traffic
from gameday.proxy.toxics import Toxic

BACKLOG = 4096


class ListenError(OSError):
    """The listen address could not be resolved or bound (the API answers 500 with this text)."""


def format_address(sockaddr: tuple[Any, ...]) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_address(address: str) -> None:
    """ListenError unless ``address`` reads as ``host:port``."""
    try:
        split_host_port(address)
    except ValueError as exc:
        raise ListenError(f"listen tcp {address}: {exc}") from None


async def bind_listener(address: str) -> socket.socket:
    """A listening, non-blocking socket for ``host:port`` (IPv4 preferred, as Go resolves)."""
    try:
        host, port = split_host_port(address)
        infos = await asyncio.get_running_loop().getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (OSError, ValueError) as exc:
        raise ListenError(f"listen tcp {address}: {exc}") from None
    preferred = socket.AF_INET6 if not host else socket.AF_INET
    family, kind, proto, _, sockaddr = sorted(infos, key=lambda info: info[0] != preferred)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and not host:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ListenError(f"listen tcp {address}: bind: {exc.strerror or exc}") from None
    return sock


class Proxy:
    """Listener + open connections + toxics. ``enabled`` is whether it is listening."""

    def __init__(self, name: str, listen: str, upstream: str, rng: random.Random) -> None:
        self.name = name
        self.listen = listen
        self._upstream = upstream
        self._rng = rng
        self.toxics = ToxicCollection(self._links_of)
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._traffic = {direction: Traffic() for direction in Direction}

    @property
    def upstream(self) -> str:
        return self._upstream

    @property
    def enabled(self) -> bool:
        return self._server is not None

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind and listen; ``listen`` becomes the bound address. No-op if already listening."""
        if self._server is not None:
            return
        sock = await bind_listener(self.listen)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self).client, sock=sock)
        self.listen = format_address(sock.getsockname())

    async def stop(self) -> None:
        """Close the listener (new connects are refused) and every open connection."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for connection in list(self._connections):
            connection.close(flush=False)

    async def update(self, listen: str, upstream: str, enabled: bool) -> None:
        """Apply ``POST /proxies/{name}``: a new address restarts it, ``enabled`` toggles it.

        A listen address that cannot be parsed, resolved or bound raises ListenError and leaves
        the proxy on its previous addresses (listening again if it was).
        """
        previous = (self.listen, self._upstream, self.enabled)
        if listen != self.listen or upstream != self._upstream:
            check_address(listen)
            await self.stop()
            self.listen, self._upstream = listen, upstream
        try:
            if enabled and not self.enabled:
                await self.start()
            elif not enabled and self.enabled:
                await self.stop()
        except ListenError:
            self.listen, self._upstream, was_enabled = previous
            if was_enabled:
                await self.start()
            raise

    # -- ConnectionOwner ---------------------------------------------------------------------
    def chain(self, direction: Direction) -> list[tuple[Toxic[Any], float]]:
        return self.toxics.chain(direction)

    def traffic(self, direction: Direction) -> Traffic:
        return self._traffic[direction]

    def connection_rng(self) -> random.Random:
        return random.Random(self._rng.getrandbits(64))

    def attach(self, connection: Connection) -> None:
        self._connections.add(connection)

    def detach(self, connection: Connection) -> None:
        self._connections.discard(connection)

    def _links_of(self, direction: Direction) -> Iterator[Link]:
        for connection in list(self._connections):
            link = connection.links.get(direction)
            if link is not None:
                yield link

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self._upstream,
            "enabled": self.enabled,
            "toxics": [entry.to_json() for entry in self.toxics.entries()],
        }
