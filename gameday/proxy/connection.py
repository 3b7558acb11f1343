"""One proxied TCP connection: the accepted client socket, the dialled upstream socket, two links.

A connection lives in one of two places. While its proxy has no toxics, the fast lane
(:mod:`gameday.proxy.fastlane`) forwards its bytes from a thread. Otherwise, or once the lane
lets it go, asyncio protocols carry them: ``data_received`` hands each read to the link of that
direction, with flow control from ``pause_writing``/``resume_writing``. The lane's leftovers
(bytes read but not yet written) are written first, so the move loses and reorders nothing.

When the proxy has no toxics any more, the connection *returns* to the lane: once its links are
bare (every byte a toxic held has been written) and both transports' write buffers are empty,
it gives the transports up, keeping duplicates of the sockets, and the lane adopts those. While
it waits for the buffers to drain, a write the destination does not take at once pauses the
source of that direction only, so the other direction keeps flowing.
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
        """The lane to use while ``lane_open``; None: never."""

    @property
    def lane_open(self) -> bool:
        """The proxy has no toxics: connections belong in the lane."""

    def chain(self, direction: Direction) -> list[tuple[Toxic, float]]: ...

    def traffic(self, direction: Direction, in_lane: bool = False) -> Traffic: ...

    def connection_rng(self) -> random.Random: ...

    def attach(self, connection: Connection) -> None: ...

    def detach(self, connection: Connection) -> None: ...

    def poll_control(self) -> None: ...


class _Endpoint(asyncio.Protocol):
    """One socket of a connection; ``outgoing`` reads from it, ``incoming`` writes to it."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.attached = True  # False once the connection gave the transport up
        self.transport: asyncio.Transport | None = None
        self.outgoing: Link | None = None
        self.incoming: Link | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.pause_reading()  # until both links are installed

    def data_received(self, data: bytes) -> None:
        self.connection.poll_control()
        if self.outgoing is not None:
            self.outgoing.feed(data)

    def eof_received(self) -> bool:
        if self.outgoing is not None:
            self.outgoing.feed_eof()
        return True  # keep the socket until the chain has flushed

    def connection_lost(self, exc: Exception | None) -> None:
        if self.attached:
            self.connection.close()

    def pause_writing(self) -> None:
        if self.incoming is not None:
            self.incoming.set_dest_full(True)

    def resume_writing(self) -> None:
        if self.incoming is not None:
            self.incoming.set_dest_full(False)
        if self.attached:
            self.connection.dest_drained()

    def give_up(self) -> None:
        """Drop the transport without closing the connection (its socket lives on as a dup)."""
        self.attached = False
        if self.transport is not None:
            self.transport.abort()


class ConnectionState(Enum):
    DIALING = auto()  # the client socket is accepted, the upstream is being dialled
    LANE = auto()  # the fast lane owns both sockets
    LEAVING = auto()  # links built (they take toxic changes), the lane asked to let go
    MOVING = auto()  # both sockets are becoming asyncio transports
    LOOP = auto()  # transports and links carry the bytes
    RETURNING = auto()  # in the loop, going back to the lane once the write buffers are empty


class Connection:
    """A client connection proxied to the upstream, closed as a whole (as Toxiproxy does)."""

    def __init__(self, owner: ConnectionOwner, client: socket.socket) -> None:
        self._owner = owner
        rng = owner.connection_rng()
        # one per direction for the connection's life: moving between the lane and the loop
        # rebuilds the links but draws no extra rolls, so the rolls do not depend on timing
        self._link_rngs = {direction: random.Random(rng.getrandbits(64)) for direction in Direction}
        self._sockets = [client]
        self._state = ConnectionState.DIALING
        self._ends: tuple[_Endpoint, _Endpoint] | None = None  # (client, server) while in the loop
        self.links: dict[Direction, Link] = {}
        self.closed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def in_lane(self) -> bool:
        return self._state is ConnectionState.LANE

    @property
    def buffered(self) -> int:
        """Bytes the loop's transports hold for the sockets (their write buffers)."""
        return sum(transport.get_write_buffer_size() for transport in self._transports())

    def poll_control(self) -> None:
        self._owner.poll_control()

    def start(self) -> None:
        self._owner.attach(self)
        self._task = asyncio.get_running_loop().create_task(self._open())

    async def _open(self) -> None:
        try:
            self._sockets.append(await dial(self._owner.upstream))
        except (OSError, ValueError):
            self.close()
            return
        if self._owner.lane is not None and self._owner.lane_open:
            self._enter_lane()
        else:
            await self._move_to_loop(Release())

    # -- the fast lane -----------------------------------------------------------------------
    def _enter_lane(self) -> None:
        lane = self._owner.lane
        assert lane is not None
        self._state = ConnectionState.LANE
        client, server = self._sockets
        up, down = (self._owner.traffic(direction, in_lane=True) for direction in Direction)
        lane.adopt(self, client, server, up, down)

    def leave_lane(self) -> None:
        """A toxic was added: build the links now (they take this and later changes at once);
        the caller asks the lane to let the sockets go."""
        if self._state is ConnectionState.LANE and not self.closed:
            self._state = ConnectionState.LEAVING
            self._build_links()

    def lane_released(self, release: Release) -> None:
        """The fast lane let the connection go (called in the loop)."""
        if self.closed:
            self._close_sockets()
        else:
            self._task = asyncio.get_running_loop().create_task(self._move_to_loop(release))

    # -- into the loop -----------------------------------------------------------------------
    async def _move_to_loop(self, release: Release) -> None:
        if not self.links:
            self._build_links()
        self._state = ConnectionState.MOVING
        loop = asyncio.get_running_loop()
        client_end, server_end = self._ends = (_Endpoint(self), _Endpoint(self))
        client, server = self._sockets
        await loop.connect_accepted_socket(lambda: client_end, client)
        await loop.connect_accepted_socket(lambda: server_end, server)
        self._state = ConnectionState.LOOP
        if self.closed:
            self._close_transports(flush=False)
            return
        self._attach_links(client_end, server_end)
        for end in self._ends:
            assert end.transport is not None
            end.transport.resume_reading()  # nothing is read before the next loop iteration
        # after resuming: a full destination pauses its source again
        self.links[Direction.UPSTREAM].write_through(release.to_server)
        self.links[Direction.DOWNSTREAM].write_through(release.to_client)
        if release.failed:
            self.close()
        elif release.eof_from is not None:
            direction = Direction.UPSTREAM if release.eof_from is Side.CLIENT else Direction.DOWNSTREAM
            self.links[direction].feed_eof()
        elif not release.hangup and self._owner.lane_open:
            self.return_to_lane()  # the toxics were removed while it moved

    def _build_links(self) -> None:
        """Links with the proxy's current chains (in this order: the rolls follow it)."""
        self.links = {}
        for direction in Direction:
            link = Link(self._owner.traffic(direction), self._link_rngs[direction], self)
            link.build(self._owner.chain(direction))
            self.links[direction] = link

    def _attach_links(self, client_end: _Endpoint, server_end: _Endpoint) -> None:
        client, server = client_end.transport, server_end.transport
        assert client is not None
        assert server is not None
        up, down = self.links[Direction.UPSTREAM], self.links[Direction.DOWNSTREAM]
        up.attach(client, server)
        down.attach(server, client)
        client_end.outgoing = server_end.incoming = up
        server_end.outgoing = client_end.incoming = down

    # -- back to the lane --------------------------------------------------------------------
    def return_to_lane(self) -> None:
        """Go back to the fast lane once nothing is left in the loop (the proxy has no toxics)."""
        if self._state is not ConnectionState.LOOP or self.closed or not self._owner.lane_open:
            return
        if not all(link.bare for link in self.links.values()):
            return  # a toxic is still being taken out; its removal calls again
        self._state = ConnectionState.RETURNING
        for transport in self._transports():
            transport.set_write_buffer_limits(high=0)  # any backlog pauses its source
        asyncio.get_running_loop().call_soon(self._finish_return)

    def dest_drained(self) -> None:
        """A transport's write buffer went (back) under its low-water mark."""
        if self._state is ConnectionState.RETURNING:
            # not from inside the transport's own write callback: the transport is given up
            asyncio.get_running_loop().call_soon(self._finish_return)

    def stay_in_loop(self) -> None:
        """A toxic was added while the connection was returning: it carries on in the loop."""
        if self._state is ConnectionState.RETURNING:
            self._state = ConnectionState.LOOP
            for transport in self._transports():
                transport.set_write_buffer_limits()

    def _finish_return(self) -> None:
        if self._state is not ConnectionState.RETURNING or self.closed:
            return
        if not self._owner.lane_open:
            self.stay_in_loop()
            return
        if any(transport.get_write_buffer_size() for transport in self._transports()):
            return  # resume_writing calls again
        try:
            dups = [sock.dup() for sock in self._sockets]
        except OSError:  # out of descriptors: stay in the loop
            self.stay_in_loop()
            return
        assert self._ends is not None
        for end in self._ends:
            end.give_up()
        for link in self.links.values():
            link.close()
        self.links, self._ends, self._sockets = {}, None, dups
        self._enter_lane()

    # -- the end -----------------------------------------------------------------------------
    def close(self, flush: bool = True) -> None:
        """Close both sockets and forget the connection.

        ``flush``: write what the sockets still buffer first (the end of a stream); without it
        the sockets close at once (the proxy is going down). Sockets the fast lane holds close
        as soon as it lets them go.
        """
        if self.closed:
            return
        self.closed = True
        for link in self.links.values():
            link.close()
        if self._state is ConnectionState.DIALING:
            if self._task is not None and self._task is not asyncio.current_task():
                self._task.cancel()
            self._close_sockets()
        elif self._state in (ConnectionState.LANE, ConnectionState.LEAVING):
            lane = self._owner.lane
            assert lane is not None
            lane.release_soon(self)
        elif self._state in (ConnectionState.LOOP, ConnectionState.RETURNING):
            self._close_transports(flush)
        self._owner.detach(self)

    def reset(self) -> None:
        """Close both sockets with a TCP RST (SO_LINGER 0): peers read ECONNRESET."""
        for transport in self._transports():
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            transport.abort()
        self.close()

    def _transports(self) -> list[asyncio.Transport]:
        ends = self._ends or ()
        return [end.transport for end in ends if end.transport is not None]

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            sock.close()

    def _close_transports(self, flush: bool) -> None:
        for transport in self._transports():
            if flush:
                transport.close()
            else:
                transport.abort()
