"""A proxy: a listener on ``listen`` forwarding every accepted connection to ``upstream``."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterator
from typing import Any

from gameday.proxy.collection import ToxicCollection
from gameday.proxy.connection import Connection
from gameday.proxy.fastlane import FastLane, LaneUser
from gameday.proxy.link import Direction, Link, Traffic
from gameday.proxy.net import ListenError, bind_listener, check_address, format_address, set_nodelay
from gameday.proxy.toxics import Toxic

ACCEPT_BATCH = 64  # connections accepted per loop callback, so a burst does not stall the loop
ACCEPT_RETRY = 1.0  # s to wait after an accept error such as EMFILE


class Proxy:
    """Listener + open connections + toxics. ``enabled`` is whether it is listening.

    Connections opened while the proxy has no toxics go to the fast lane; adding a toxic brings
    them all back to the event loop first (see :mod:`gameday.proxy.fastlane`).
    """

    def __init__(
        self, name: str, listen: str, upstream: str, rng: random.Random, lane: FastLane | None
    ) -> None:
        self.name = name
        self.listen = listen
        self._upstream = upstream
        self._rng = rng
        self._lane = lane
        self.toxics = ToxicCollection(self._links_of, self._leave_lane)
        self._listener: socket.socket | None = None
        self._connections: set[Connection] = set()
        self._traffic = {direction: Traffic() for direction in Direction}
        self._lane_traffic = {direction: Traffic() for direction in Direction}  # the lane's to write

    @property
    def upstream(self) -> str:
        return self._upstream

    @property
    def enabled(self) -> bool:
        return self._listener is not None

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind and listen; ``listen`` becomes the bound address. No-op if already listening."""
        if self._listener is not None:
            return
        self._listener = await bind_listener(self.listen)
        self.listen = format_address(self._listener.getsockname())
        self._accept_soon()

    async def stop(self) -> None:
        """Close the listener (new connects are refused) and every open connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            asyncio.get_running_loop().remove_reader(listener.fileno())
            listener.close()
        for connection in list(self._connections):
            connection.close(flush=False)
        if self._lane is not None and self._lane.running:
            await self._lane.release([])  # the lane has let every closed connection go

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

    def lane_allowed(self) -> bool:
        return not self.toxics.changing() and not self.toxics.entries()

    async def _leave_lane(self) -> None:
        in_lane: list[LaneUser] = [connection for connection in self._connections if connection.in_lane]
        if in_lane and self._lane is not None:
            await self._lane.release(in_lane)

    def chain(self, direction: Direction) -> list[tuple[Toxic[Any], float]]:
        return self.toxics.chain(direction)

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
