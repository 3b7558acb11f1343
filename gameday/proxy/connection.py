"""One proxied TCP connection: the accepted client socket, the dialled upstream socket, two links.

asyncio protocols (not streams) carry the bytes: ``data_received`` hands each read straight to
the link, so a toxic-free connection costs one callback and one ``write`` per read, with flow
control from ``pause_writing``/``resume_writing`` instead of a reader task per direction.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from typing import TYPE_CHECKING, Protocol

from gameday.proxy.link import Direction, Link, Traffic

if TYPE_CHECKING:
    from gameday.proxy.toxics import Toxic

_LINGER_RESET = struct.pack("ii", 1, 0)


class ConnectionOwner(Protocol):
    """What a connection needs from its proxy."""

    @property
    def upstream(self) -> str: ...

    def chain(self, direction: Direction) -> list[tuple[Toxic, float]]: ...

    def traffic(self, direction: Direction) -> Traffic: ...

    def connection_rng(self) -> random.Random: ...

    def attach(self, connection: Connection) -> None: ...

    def detach(self, connection: Connection) -> None: ...


def split_host_port(address: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` -> (host, port); ValueError if malformed."""
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f"address {address}: missing port in address")
    return host.removeprefix("[").removesuffix("]"), int(port)


class _Endpoint(asyncio.Protocol):
    """One socket of a connection; ``outgoing`` reads from it, ``incoming`` writes to it."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transport: asyncio.Transport | None = None
        self.outgoing: Link | None = None
        self.incoming: Link | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.outgoing is not None:
            self.outgoing.feed(data)

    def eof_received(self) -> bool:
        if self.outgoing is not None:
            self.outgoing.feed_eof()
        return True  # keep the socket until the chain has flushed

    def connection_lost(self, exc: Exception | None) -> None:
        self.connection.close()

    def pause_writing(self) -> None:
        if self.incoming is not None:
            self.incoming.set_dest_full(True)

    def resume_writing(self) -> None:
        if self.incoming is not None:
            self.incoming.set_dest_full(False)


class ClientEndpoint(_Endpoint):
    """The accepted socket: holds reads until the upstream is dialled."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        self.connection.start()


class Connection:
    """A client connection proxied to the upstream, closed as a whole (as Toxiproxy does)."""

    def __init__(self, owner: ConnectionOwner) -> None:
        self._owner = owner
        self._rng = owner.connection_rng()
        self.client = ClientEndpoint(self)
        self.server = _Endpoint(self)
        self.links: dict[Direction, Link] = {}
        self.closed = False
        self._dial: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._owner.attach(self)
        self._dial = asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            host, port = split_host_port(self._owner.upstream)
            await loop.create_connection(lambda: self.server, host, port)
        except (OSError, ValueError):
            self.close()
            return
        if self.closed:
            self._close_transports(flush=False)
            return
        self._install_links()

    def _install_links(self) -> None:
        client, server = self.client.transport, self.server.transport
        assert client is not None
        assert server is not None
        up = Link(client, server, self._owner.traffic(Direction.UPSTREAM), self._link_rng(), self)
        down = Link(server, client, self._owner.traffic(Direction.DOWNSTREAM), self._link_rng(), self)
        up.build(self._owner.chain(Direction.UPSTREAM))
        down.build(self._owner.chain(Direction.DOWNSTREAM))
        self.links = {Direction.UPSTREAM: up, Direction.DOWNSTREAM: down}
        self.client.outgoing = self.server.incoming = up
        self.server.outgoing = self.client.incoming = down
        client.resume_reading()

    def _link_rng(self) -> random.Random:
        return random.Random(self._rng.getrandbits(64))

    def close(self, flush: bool = True) -> None:
        """Close both sockets and forget the connection.

        ``flush``: write what the sockets still buffer first (the end of a stream); without it
        the sockets close at once (the proxy is going down).
        """
        if self.closed:
            return
        self.closed = True
        for link in self.links.values():
            link.close()
        self._close_transports(flush)
        if self._dial is not None and not self._dial.done() and self.server.transport is None:
            self._dial.cancel()
        self._owner.detach(self)

    def reset(self) -> None:
        """Close both sockets with a TCP RST (SO_LINGER 0): peers read ECONNRESET."""
        for endpoint in (self.client, self.server):
            transport = endpoint.transport
            if transport is None:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            transport.abort()
        self.close()

    def _close_transports(self, flush: bool) -> None:
        for endpoint in (self.client, self.server):
            if endpoint.transport is not None:
                if flush:
                    endpoint.transport.close()
                else:
                    endpoint.transport.abort()
