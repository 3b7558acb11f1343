"""Shadow mode (docs/deploy.md §2.2): a green instance computes in the dark.

It replays the fills and orders the active instance applied (``<prefix>.fills`` and
``<prefix>.orders``, JetStream ordered consumers from the start of the stream, in the active
instance's order), books every fill with its own build and publishes what it computed on
``<prefix>.shadow.outputs``. It holds no reference to the database store and no way to send
to the venue: all it can do is publish outputs.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from trading_stack.book import Book
from trading_stack.clock import MonotonicNs
from trading_stack.deploy.versions import BookedFill
from trading_stack.models import Fill, Order

log = logging.getLogger(__name__)

OnBooked = Callable[[Fill, BookedFill, int], None]


class ShadowFeed:
    """Two ordered consumers feeding one book; ``caught_up`` once the fills consumer has nothing pending."""

    def __init__(self, js: JetStreamContext, stream: str, prefix: str, book: Book, on_booked: OnBooked,
                 clock: MonotonicNs) -> None:
        self._js = js
        self._stream = stream
        self._prefix = prefix
        self._book = book
        self._on_booked = on_booked
        self._clock = clock
        self._subs: list[Any] = []
        self.caught_up = False
        self.replayed = False
        self.applied = 0

    async def start(self) -> None:
        if not await self._has_fills():
            self.caught_up = self.replayed = True
        for suffix, handler in (("orders", self._on_order), ("fills", self._on_fill)):
            self._subs.append(await self._js.subscribe(
                f"{self._prefix}.{suffix}", stream=self._stream, cb=handler, ordered_consumer=True,
                idle_heartbeat=1.0,
            ))

    async def stop(self) -> None:
        subs, self._subs = self._subs, []
        for sub in subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _has_fills(self) -> bool:
        try:
            await self._js.get_last_msg(self._stream, f"{self._prefix}.fills")
        except nats.js.errors.NotFoundError:
            return False
        return True

    async def _on_order(self, msg: Msg) -> None:
        try:
            order = Order.model_validate(json.loads(msg.data)["order"])
        except (ValueError, KeyError, TypeError) as err:
            log.warning("shadow skipped a bad order message: %s", err)
            return
        current = self._book.get(order.order_id)
        if current is None or not current.status.is_done:
            self._book.add_order(order)

    async def _on_fill(self, msg: Msg) -> None:
        try:
            fill = Fill.model_validate(json.loads(msg.data))
        except ValueError as err:
            log.warning("shadow skipped a bad fill message: %s", err)
        else:
            booked = self._book.apply_fill(fill)
            if booked is not None:
                self.applied += 1
                self._on_booked(fill, booked, self._clock())
        with contextlib.suppress(Exception):
            pending = int(msg.metadata.num_pending)
            self.caught_up = pending == 0
            self.replayed = self.replayed or self.caught_up
