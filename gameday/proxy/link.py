"""One direction of one proxied connection: source socket -> chain of toxics -> destination socket.

With no toxics a link writes what it reads straight to the destination (the fast path: no
allocation, no task switch). With toxics, reads are cut into chunks of at most 32 KiB stamped
with their read time and put into the first stage; each :class:`~gameday.proxy.stub.Stage`
delivers to the next one's input, and the last stage's output is the link itself (``put``
writes to the destination).

Flow control: reading from the source pauses while the destination's write buffer is full or
more than ``HIGH_WATER`` bytes are inside the chain, and resumes under ``LOW_WATER``.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from gameday.proxy.stub import Chunk, Item, Sink, Stage

if TYPE_CHECKING:
    from gameday.proxy.toxics import Toxic

CHUNK_SIZE = 32 * 1024
HIGH_WATER = 4 * 1024 * 1024
LOW_WATER = 1024 * 1024


class Direction(StrEnum):
    UPSTREAM = "upstream"  # client -> upstream server
    DOWNSTREAM = "downstream"  # upstream server -> client


@dataclass(slots=True)
class Traffic:
    """Byte counters of one proxy in one direction (read from the source, written to the dest)."""

    received: int = 0
    sent: int = 0


class ConnectionControl(Protocol):
    def close(self) -> None: ...

    def reset(self) -> None: ...

    def poll_control(self) -> None: ...


class _Unattached(asyncio.Transport):
    """Where a link's transports will be: the connection is still leaving the fast lane."""

    def is_closing(self) -> bool:
        return True  # nothing to pause or resume yet

    def write(self, data: bytes | bytearray | memoryview) -> None:
        raise AssertionError("a link writes only once attached: its data comes from its source")


class Link:
    """Moves one direction of a connection through its toxics.

    A link exists, and takes toxic changes, from the moment its connection leaves the fast lane;
    it carries bytes once ``attach`` gives it the source and destination transports.
    """

    def __init__(self, traffic: Traffic, rng: random.Random, connection: ConnectionControl) -> None:
        self._source: asyncio.Transport = _Unattached()
        self._dest: asyncio.Transport = _Unattached()
        self._traffic = traffic
        self._rng = rng
        self._connection = connection
        self._loop = asyncio.get_running_loop()
        self._head: Sink = self
        self._stages: list[Stage] = []
        self._in_chain = 0  # bytes fed into the chain and not yet written or dropped
        self._chain_full = False
        self._dest_full = False
        self._reading_paused = False
        self._closed = False

    def attach(self, source: asyncio.Transport, dest: asyncio.Transport) -> None:
        self._source, self._dest = source, dest

    @property
    def bare(self) -> bool:
        """No toxics: what is read is written straight through."""
        return not self._stages

    # -- data from the source ---------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self._closed:
            return
        size = len(data)
        self._traffic.received += size
        head = self._head
        if head is self:  # fast path: no toxics
            self._write(data)
            return
        self._in_chain += size  # first: a stage may deliver at once
        now = self._loop.time()
        if size <= CHUNK_SIZE:
            head.put(Chunk(data, now))
        else:
            for offset in range(0, size, CHUNK_SIZE):
                head.put(Chunk(data[offset : offset + CHUNK_SIZE], now))
        if self._in_chain > HIGH_WATER and not self._chain_full:
            self._chain_full = True
            self._update_reading()

    def write_through(self, data: bytes) -> None:
        """Write bytes that are already past the toxics (the fast lane's leftovers)."""
        if data:
            self._write(data)

    def _write(self, data: bytes) -> None:
        if not self._dest.is_closing():  # else the connection is ending: the bytes go nowhere
            self._traffic.sent += len(data)
            self._dest.write(data)

    def feed_eof(self) -> None:
        if not self._closed:
            self._head.put(None)

    # -- the end of the chain ---------------------------------------------------------------
    def put(self, item: Item) -> None:
        if self._closed:
            return
        if item is None:
            self._connection.close()
            return
        self._write(item.data)
        self.discard(len(item.data))

    def discard(self, nbytes: int) -> None:
        self._in_chain -= nbytes
        if self._chain_full and self._in_chain < LOW_WATER:
            self._chain_full = False
            self._update_reading()

    def set_dest_full(self, full: bool) -> None:
        """The destination's write buffer went over (or back under) its high-water mark."""
        self._dest_full = full
        self._update_reading()

    def _update_reading(self) -> None:
        pause = self._chain_full or self._dest_full
        if pause == self._reading_paused or self._source.is_closing():
            return
        self._reading_paused = pause
        if pause:
            self._source.pause_reading()
        else:
            self._source.resume_reading()

    # -- what stubs may ask -----------------------------------------------------------------
    def close_connection(self) -> None:
        self._connection.close()

    def reset_connection(self) -> None:
        self._connection.reset()

    def poll_control(self) -> None:
        self._connection.poll_control()

    # -- changing the chain -----------------------------------------------------------------
    def build(self, chain: list[tuple[Toxic[Any], float]]) -> None:
        """Install the initial chain of a new connection."""
        for toxic, toxicity in chain:
            self._append(toxic, toxicity)

    def add_toxic(self, toxic: Toxic[Any], toxicity: float) -> None:
        """Append a toxic; data already in the chain passes through it too."""
        if self._closed:
            return
        if self._stages:
            self._stages[-1].restart()  # a neighbour changed: re-roll
        self._append(toxic, toxicity)

    def _append(self, toxic: Toxic[Any], toxicity: float) -> None:
        stage = toxic.new_stage(toxicity, self, self, random.Random(self._rng.getrandbits(64)))
        if self._stages:
            self._stages[-1].output = stage.input
        else:
            self._head = stage.input
        self._stages.append(stage)
        stage.start()

    def update_toxic(self, toxic: Toxic[Any], toxicity: float) -> None:
        """The toxic's attributes or toxicity changed: restart it with a fresh roll."""
        for stage in self._stages:
            if stage.toxic is toxic:
                stage.toxicity = toxicity
                stage.restart()

    async def remove_toxic(self, toxic: Toxic[Any]) -> None:
        """Take a toxic out; what it held or had queued moves on, in order."""
        stage = next((s for s in self._stages if s.toxic is toxic), None)
        if stage is None or self._closed:
            return
        await stage.stop()
        if self._closed:
            return
        index = self._stages.index(stage)
        del self._stages[index]
        if index == 0:
            self._head = stage.output
        else:
            self._stages[index - 1].output = stage.output
        for item in stage.leftovers():
            stage.output.put(item)
        if stage.running_toxic:
            toxic.on_removed(stage)
        if index > 0:
            self._stages[index - 1].restart()

    def close(self) -> None:
        """Abandon the chain (the connection is closing)."""
        self._closed = True
        for stage in self._stages:
            stage.cancel()
        self._stages.clear()
