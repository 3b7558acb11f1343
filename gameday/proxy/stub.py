"""The runtime of one toxic on one link: a *stage* of the link's chain.

A :class:`Stage` takes items on its ``input`` and delivers them to its ``output`` (the next
stage's input, or the link). Most toxics run as a :class:`ToxicStub`: their ``pipe`` coroutine
talks only to the stub. The contract that keeps bytes whole and in order when the chain changes
under a live connection: whenever ``recv`` raises :class:`Interrupted` or ``sleep_until``
returns ``False``, the toxic puts back whatever it holds but has not sent (``unrecv``) and
returns. The link then restarts it (update, re-roll) or moves its leftovers on to the next stage
(removal). The latency toxic, the common case under load, has a stage of its own driven by a
loop timer (:mod:`gameday.proxy.latency`).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gameday.proxy.toxics import PipedToxic, Toxic


@dataclass(slots=True)
class Chunk:
    """Bytes read from a socket and the loop time (monotonic seconds) they were read at."""

    data: bytes
    ts: float


# ``None`` in a pipe is the end of the stream (the source sent EOF or a toxic closed it).
Item = Chunk | None


class Interrupted(Exception):
    """Raised by ``ToxicStub.recv`` when the link wants the toxic to stop or restart."""


class TimedOut:
    """Returned by ``ToxicStub.recv_within`` when nothing arrived in time."""


TIMED_OUT = TimedOut()


class Sink(Protocol):
    """Where a stage delivers: the next stage's pipe or the destination socket."""

    def put(self, item: Item) -> None: ...


class LinkControl(Protocol):
    """What a stage may ask of the link that owns it."""

    def discard(self, nbytes: int) -> None: ...

    def close_connection(self) -> None: ...

    def reset_connection(self) -> None: ...

    def poll_control(self) -> None:
        """Run the API's queued operations (see :mod:`gameday.proxy.dataplane`)."""


class Stage(Protocol):
    """One toxic on one link, as the link drives it."""

    toxicity: float
    output: Sink
    running_toxic: bool  # the toxicity roll of the current run

    @property
    def toxic(self) -> Toxic[Any]: ...

    @property
    def link(self) -> LinkControl: ...

    @property
    def input(self) -> Sink: ...

    def start(self) -> None: ...

    def restart(self) -> None:
        """Run again with the current attributes and a fresh roll."""

    async def stop(self) -> None:
        """Stop for good; what it still holds is in ``leftovers``."""

    def leftovers(self) -> list[Item]:
        """After ``stop``: the items taken in but not delivered, in order (emptied)."""

    def cancel(self) -> None:
        """Abandon the stage (the connection is closing)."""


class Pipe:
    """An unbounded FIFO with one consumer; the link bounds the bytes in flight."""

    __slots__ = ("_waiter", "items")

    def __init__(self) -> None:
        self.items: deque[Item] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put(self, item: Item) -> None:
        self.items.append(item)
        self.wake()

    def wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, seconds: float | None = None) -> None:
        """Wait until woken (an item arrived or the consumer was interrupted) or ``seconds``."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if seconds is None else loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ToxicStub:
    """One toxic running on one link (one direction of one connection)."""

    def __init__(
        self,
        toxic: PipedToxic[Any],
        toxicity: float,
        pipe_in: Pipe,
        output: Sink,
        link: LinkControl,
        rng: random.Random,
    ) -> None:
        self.toxic = toxic
        self.toxicity = toxicity
        self.input = pipe_in
        self.output = output
        self.link = link
        self.rng = rng
        self.state = toxic.new_state()
        self.running_toxic = False  # the toxicity roll of the current run
        self.finished = False  # the toxic has ended the stream and returned
        self._interrupted = False
        self._stopping = False
        self._sleeper: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    # -- used by toxics ---------------------------------------------------------------------
    async def recv(self) -> Item:
        """The next item of the input; raises Interrupted."""
        item = await self._next(None)
        assert not isinstance(item, TimedOut)
        return item

    async def recv_within(self, seconds: float) -> Item | TimedOut:
        """Like ``recv``, but ``TIMED_OUT`` when nothing arrives within ``seconds``."""
        return await self._next(asyncio.get_running_loop().time() + seconds)

    async def _next(self, deadline: float | None) -> Item | TimedOut:
        loop = asyncio.get_running_loop()
        items = self.input.items
        while True:
            if self._interrupted:
                raise Interrupted
            if items:
                return items.popleft()
            if deadline is None:
                await self.input.wait()
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return TIMED_OUT
            await self.input.wait(remaining)

    def unrecv(self, item: Item) -> None:
        """Put back an item the toxic took but did not finish with."""
        self.input.items.appendleft(item)

    def send(self, item: Item) -> None:
        self.output.put(item)

    def drop(self, chunk: Chunk) -> None:
        """Throw a chunk away (it still counts as delivered for flow control)."""
        self.link.discard(len(chunk.data))

    async def sleep_until(self, deadline: float) -> bool:
        """Sleep until loop time ``deadline`` (``inf``: until interrupted); ``False`` if interrupted."""
        if self._interrupted:
            return False
        loop = asyncio.get_running_loop()
        if deadline <= loop.time():
            return True
        sleeper = self._sleeper = loop.create_future()
        timer = None if math.isinf(deadline) else loop.call_at(deadline, _resolve, sleeper)
        try:
            await sleeper
        finally:
            if timer is not None:
                timer.cancel()
            self._sleeper = None
        return not self._interrupted

    @staticmethod
    def loop_time() -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> bool:
        return await self.sleep_until(asyncio.get_running_loop().time() + seconds)

    def close(self) -> None:
        """End the stream here: what is already downstream is flushed, then the connection closes."""
        self.send(None)

    # -- used by the link -------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def restart(self) -> None:
        """Interrupt the toxic; it runs again with the current attributes and a fresh roll."""
        self._interrupt()

    async def stop(self) -> None:
        """Interrupt the toxic for good and wait until it has put back what it held."""
        self._stopping = True
        self._interrupt()
        if self._task is not None:
            await asyncio.shield(self._task)

    def leftovers(self) -> list[Item]:
        items = list(self.input.items)
        self.input.items.clear()
        return items

    def cancel(self) -> None:
        """Abandon the toxic (the connection is closing; buffered data does not matter)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()

    def _interrupt(self) -> None:
        self._interrupted = True
        self.input.wake()
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.set_result(None)

    async def _run(self) -> None:
        while not self._stopping:
            self.running_toxic = self.rng.random() < self.toxicity
            try:
                if self.running_toxic:
                    await self.toxic.pipe(self)
                else:
                    await passthrough(self)
            except Interrupted:
                pass
            if not self._interrupted:
                self.finished = True
                return
            self._interrupted = False


async def passthrough(stub: ToxicStub) -> None:
    """Forward everything unchanged (the noop toxic, and a toxic whose roll failed)."""
    while True:
        item = await stub.recv()
        stub.send(item)
        if item is None:
            return
