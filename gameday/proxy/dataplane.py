"""The seam between the API (control) thread and the data loop that carries the proxied bytes.

The registry of proxies and toxics lives in the API thread; sockets, links and toxic stages live
in the data loop. Every change reaches the data loop as an *operation*: a plain function run in
the data thread. A loop busy with thousands of connections runs a long turn of callbacks; an
operation queued with ``call_soon_threadsafe`` would wait for the whole turn. So the busy data
callbacks (a read, a latency release) :meth:`DataPlane.poll` the inbox first, and an operation
runs between two of them. The wake-up is only the fallback for an idle loop.

An operation runs before any byte read after it was queued: a client that waits for the API's
answer before sending finds the change already applied.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")
_Operation = tuple[Callable[..., Any], tuple[Any, ...], "concurrent.futures.Future[Any]"]


class DataPlane:
    """Runs operations in the data loop's thread, in the order they were submitted."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._inbox: collections.deque[_Operation] = collections.deque()
        self._running = False

    def submit(self, function: Callable[..., _T], *args: Any) -> concurrent.futures.Future[_T]:
        """Queue ``function(*args)`` for the data thread (callable from any thread)."""
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        self._inbox.append((function, args, future))
        self._loop.call_soon_threadsafe(self.poll)
        return future

    async def call(self, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)`` run in the data thread; awaited from another loop."""
        return await asyncio.wrap_future(self.submit(function, *args))

    def poll(self) -> None:
        """Run the queued operations (data thread only; a no-op when there are none)."""
        if self._running:
            return
        self._running = True
        try:
            while self._inbox:
                function, args, future = self._inbox.popleft()
                try:
                    result = function(*args)
                except Exception as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
        finally:
            self._running = False
