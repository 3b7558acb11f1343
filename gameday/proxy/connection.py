"""One proxied TCP connection: the accepted client socket, the dialled upstream socket, two links.

A connection lives in one of two places. While its proxy has no toxics, the fast lane
(:mod:`gameday.proxy.fastlane`) forwards its bytes from a thread. Otherwise, or once the lane
lets it go, asyncio protocols carry them: ``data_received`` hands each read to the link of that
direction, with flow control from ``pause_writing``/``resume_writing``. The lane's leftovers
(bytes read but not yet written) are written first, so the move loses and reorders nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from enum import Enum, auto
from typing import TYPE_CHECKING, Protocol

from gameday.proxy.fastlane import FastLane, Release, Side
from gameday.proxy.link import Direction, Link, Traffic
from gameday.proxy.net import dial

if TYPE_CHECKING:
    from gameday.proxy.toxics import Toxic

_LINGER_RESET = struct.pack("ii", 1, 0)


class ConnectionOwner(Protocol):
    """What a connection needs from its proxy."""

    @property
    def upstream(self) -> str: ...

    @property
    def lane(self) -> FastLane | None:
        """The lane to use while ``lane_allowed()``; None: never."""

    def lane_allowed(self) -> bool: ...

    def chain(self, direction: Direction) -> list[tuple[Toxic, float]]: ...

    def traffic(self, direction: Direction, in_lane: bool = False) -> Traffic: ...

    def connection_rng(self) -> random.Random: ...

    def attach(self, connection: Connection) -> None: ...

    def detach(self, connection: Connection) -> None: ...


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
        transport.pause_reading()  # until both links are installed

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


class _Stage(Enum):
    DIALING = auto()  # the client socket is accepted, the upstream is being dialled
    LANE = auto()  # the fast lane owns both sockets
    MOVING = auto()  # both sockets are becoming asyncio transports
    LOOP = auto()  # transports and links carry the bytes


class Connection:
    """A client connection proxied to the upstream, closed as a whole (as Toxiproxy does)."""

    def __init__(self, owner: ConnectionOwner, client: socket.socket) -> None:
        self._owner = owner
        self._rng = owner.connection_rng()
        self._sockets = [client]
        self._stage = _Stage.DIALING
        self.client = _Endpoint(self)
        self.server = _Endpoint(self)
        self.links: dict[Direction, Link] = {}
        self.closed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def in_lane(self) -> bool:
        return self._stage is _Stage.LANE

    def start(self) -> None:
        self._owner.attach(self)
        self._task = asyncio.get_running_loop().create_task(self._open())

    async def _open(self) -> None:
        try:
            self._sockets.append(await dial(self._owner.upstream))
        except (OSError, ValueError):
            self.close()
            return
        lane = self._owner.lane
        if lane is not None and self._owner.lane_allowed():
            self._stage = _Stage.LANE
            client, server = self._sockets
            up, down = (self._owner.traffic(direction, in_lane=True) for direction in Direction)
            lane.adopt(self, client, server, up, down)
        else:
            await self._move_to_loop(Release())

    def lane_released(self, release: Release) -> None:
        """The fast lane let the connection go (called in the loop)."""
        if self.closed:
            self._close_sockets()
        else:
            self._task = asyncio.get_running_loop().create_task(self._move_to_loop(release))

    async def _move_to_loop(self, release: Release) -> None:
        self._stage = _Stage.MOVING
        loop = asyncio.get_running_loop()
        client, server = self._sockets
        await loop.connect_accepted_socket(lambda: self.client, client)
        await loop.connect_accepted_socket(lambda: self.server, server)
        self._stage = _Stage.LOOP
        if self.closed:
            self._close_transports(flush=False)
            return
        self._install_links()
        for endpoint in (self.client, self.server):
            assert endpoint.transport is not None
            endpoint.transport.resume_reading()  # nothing is read before the next loop iteration
        # after resuming: a full destination pauses its source again
        self.links[Direction.UPSTREAM].write_through(release.to_server)
        self.links[Direction.DOWNSTREAM].write_through(release.to_client)
        if release.failed:
            self.close()
        elif release.eof_from is not None:
            direction = Direction.UPSTREAM if release.eof_from is Side.CLIENT else Direction.DOWNSTREAM
            self.links[direction].feed_eof()

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

    def _link_rng(self) -> random.Random:
        return random.Random(self._rng.getrandbits(64))

    def close(self, flush: bool = True) -> None:
        """Close both sockets and forget the connection.

        ``flush``: write what the sockets still buffer first (the end of a stream); without it
        the sockets close at once (the proxy is going down). Sockets the fast lane holds close
        as soon as it lets them go.
        """
        if self.closed:
            return
        self.closed = True
        if self._stage is _Stage.DIALING:
            if self._task is not None and self._task is not asyncio.current_task():
                self._task.cancel()
            self._close_sockets()
        elif self._stage is _Stage.LANE:
            lane = self._owner.lane
            assert lane is not None
            lane.release_soon(self)
        elif self._stage is _Stage.LOOP:
            for link in self.links.values():
                link.close()
            self._close_transports(flush)
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

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()

    def _close_transports(self, flush: bool) -> None:
        for endpoint in (self.client, self.server):
            if endpoint.transport is not None:
                if flush:
                    endpoint.transport.close()
                else:
                    endpoint.transport.abort()
