"""The data side of a proxy: its listener's accepts, its open connections, its chains of toxics.

A relay lives in the data loop. The API thread changes it only through
:class:`~gameday.proxy.dataplane.DataPlane` operations: ``listen``, ``stop``, ``add_toxic``,
``update_toxic`` and ``remove_toxic`` below, each run in the data thread. New connections
start with the chains as the last operation left them. Connections opened while the proxy has
no toxics go to the fast lane; adding a toxic brings them all to the event loop, and once the
last toxic is gone they go back (see :mod:`gameday.proxy.connection`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
import socket
from collections.abc import Iterator
from typing import Any

from gameday.proxy.connection import Connection
from gameday.proxy.dataplane import DataPlane
from gameday.proxy.fastlane import FastLane, LaneUser
from gameday.proxy.link import Direction, Link, Traffic
from gameday.proxy.net import set_nodelay
from gameday.proxy.toxics import Attrs, Toxic

ACCEPT_BATCH = 64  # connections accepted per loop callback, so a burst does not stall the loop
ACCEPT_RETRY = 1.0  # s to wait after an accept error such as EMFILE

Chain = list[tuple[Toxic[Any], float]]


class Relay:
    """Accepts on a listening socket and relays every connection to ``upstream``."""

    def __init__(self, rng: random.Random, lane: FastLane | None, plane: DataPlane) -> None:
        self._rng = rng
        self._lane = lane
        self._plane = plane
        self.upstream = ""
        self._listener: socket.socket | None = None
        self._connections: set[Connection] = set()
        self._chains: dict[Direction, Chain] = {direction: [] for direction in Direction}
        self._removals: set[asyncio.Task[None]] = set()
        self._traffic = {direction: Traffic() for direction in Direction}
        self._lane_traffic = {direction: Traffic() for direction in Direction}  # the lane's to write

    # -- operations --------------------------------------------------------------------------
    def listen(self, listener: socket.socket, upstream: str) -> None:
        """Accept on ``listener`` (bound, listening, non-blocking) and dial ``upstream``."""
        self._listener, self.upstream = listener, upstream
        self._accept_soon()

    def stop(self) -> None:
        """Close the listener (new connects are refused) and every open connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            asyncio.get_running_loop().remove_reader(listener.fileno())
            listener.close()
        for connection in list(self._connections):
            connection.close(flush=False)

    def add_toxic(
        self, direction: Direction, toxic: Toxic[Any], toxicity: float
    ) -> concurrent.futures.Future[None] | None:
        """Append a toxic to the chain and to every open link; connections in the lane are
        released. The future (if any) is resolved once the lane forwards none of their bytes."""
        self._chains[direction].append((toxic, toxicity))
        for connection in self._connections:
            connection.stay_in_loop()
        for link in self._links_of(direction):
            link.add_toxic(toxic, toxicity)
        in_lane: list[LaneUser] = []
        for connection in list(self._connections):
            if connection.in_lane:
                connection.leave_lane()  # its new links start with the whole chain
                in_lane.append(connection)
        if not in_lane or self._lane is None:
            return None
        return self._lane.release(in_lane)

    def update_toxic(self, direction: Direction, toxic: Toxic[Any], attrs: Attrs, toxicity: float) -> None:
        toxic.attrs = attrs
        self._chains[direction] = [(t, toxicity if t is toxic else p) for t, p in self._chains[direction]]
        for link in self._links_of(direction):
            link.update_toxic(toxic, toxicity)

    def remove_toxic(self, direction: Direction, toxic: Toxic[Any]) -> None:
        """Take the toxic out of the chain now and out of the open links soon (what it holds
        moves on first); then, without toxics, connections go back to the lane."""
        self._chains[direction] = [(t, p) for t, p in self._chains[direction] if t is not toxic]
        removal = asyncio.get_running_loop().create_task(self._remove(direction, toxic))
        self._removals.add(removal)
        removal.add_done_callback(self._removals.discard)

    async def _remove(self, direction: Direction, toxic: Toxic[Any]) -> None:
        await asyncio.gather(*(link.remove_toxic(toxic) for link in list(self._links_of(direction))))
        if self.lane_open:
            for connection in list(self._connections):
                connection.return_to_lane()

    # -- accepting ---------------------------------------------------------------------------
    def _accept_soon(self) -> None:
        if self._listener is not None:
            asyncio.get_running_loop().add_reader(self._listener.fileno(), self._accept)

    def _accept(self) -> None:
        listener = self._listener
        assert listener is not None
        for _ in range(ACCEPT_BATCH):
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors or buffers: pause accepting for a while
                loop = asyncio.get_running_loop()
                loop.remove_reader(listener.fileno())
                loop.call_later(ACCEPT_RETRY, self._accept_soon)
                return
            sock.setblocking(False)
            set_nodelay(sock)
            Connection(self, sock).start()

    # -- ConnectionOwner ---------------------------------------------------------------------
    @property
    def lane(self) -> FastLane | None:
        return self._lane

    @property
    def lane_open(self) -> bool:
        return self._lane is not None and not any(self._chains.values())

    @property
    def connections(self) -> frozenset[Connection]:
        return frozenset(self._connections)

    def chain(self, direction: Direction) -> Chain:
        return list(self._chains[direction])

    def traffic(self, direction: Direction, in_lane: bool = False) -> Traffic:
        return (self._lane_traffic if in_lane else self._traffic)[direction]

    def total_traffic(self, direction: Direction) -> Traffic:
        """Byte counters of the loop and of the lane together."""
        loop, lane = self._traffic[direction], self._lane_traffic[direction]
        return Traffic(loop.received + lane.received, loop.sent + lane.sent)

    def connection_rng(self) -> random.Random:
        return random.Random(self._rng.getrandbits(64))

    def attach(self, connection: Connection) -> None:
        self._connections.add(connection)

    def detach(self, connection: Connection) -> None:
        self._connections.discard(connection)

    def poll_control(self) -> None:
        self._plane.poll()

    def _links_of(self, direction: Direction) -> Iterator[Link]:
        for connection in list(self._connections):
            link = connection.links.get(direction)
            if link is not None:
                yield link
