"""NATS JetStream: the OMS stream, an ordered background publisher, and the standby mirror."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from trading_stack.book import Book
from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.json_log import valid_corr
from trading_stack.models import Fill, Order
from trading_stack.order_log import log_order
from trading_stack.roles import Role
from trading_stack.store import StoreBacklog

log = logging.getLogger(__name__)

PUBLISH_WINDOW = 256  # acknowledgements outstanding at once (a publish round trip each, else)
ACK_TIMEOUT_S = 2.0


async def connect_nats(url: str, name: str, attempts_timeout_s: float = 2.0) -> NatsClient:
    """Connect (retrying the first connect until it succeeds) with endless reconnects."""
    delay = 0.1
    while True:
        client = NatsClient()
        try:
            options: dict[str, Any] = {
                "connect_timeout": attempts_timeout_s,
                "reconnect_time_wait": 0.2,
                "max_reconnect_attempts": -1,
                "allow_reconnect": True,
                "ping_interval": 1,
                "max_outstanding_pings": 2,
            }
            await client.connect(servers=[url], name=name, **options)
            return client
        except (OSError, nats.errors.Error, TimeoutError) as err:
            log.warning("NATS connect to %s failed (%s); retrying in %.1fs", url, err, delay)
            with contextlib.suppress(Exception):
                await client.close()
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)


async def ensure_stream(js: JetStreamContext, stream: str, prefix: str) -> None:
    """Create the stream on ``<prefix>.>`` if absent (an existing one is used as is)."""
    try:
        await js.stream_info(stream)
        return
    except nats.js.errors.NotFoundError:
        pass
    try:
        await js.add_stream(StreamConfig(name=stream, subjects=[f"{prefix}.>"]))
    except nats.js.errors.BadRequestError:
        await js.stream_info(stream)  # created concurrently


class EventPublisher:
    """Publishes §5 events in order from a queue, so the order path never waits on NATS."""

    def __init__(
        self, js: JetStreamContext, prefix: str, instance: str, clock: MonotonicNs = monotonic_ns
    ) -> None:
        self._js = js
        self._prefix = prefix
        self._instance = instance
        self._clock = clock
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self.published = 0

    # -- typed events --------------------------------------------------------------------
    def order(self, order: Order) -> None:
        body: dict[str, Any] = {"instance": self._instance, "order": order.api_dict()}
        if order.corr is not None:
            body["corr"] = order.corr
        self._put("orders", body)

    def fill(self, fill: Fill) -> None:
        body = fill.model_dump(mode="json")
        body["instance"] = fill.instance
        self._put("fills", body)

    def positions(self, positions: Mapping[str, int], fills: int) -> None:
        self._put(
            "positions",
            {"instance": self._instance, "positions": dict(positions), "fills": fills, "t_ns": self._clock()},
        )

    def role(self, role: Role, epoch: int, reason: str, version: str | None = None) -> None:
        self._put(
            "roles",
            {
                "instance": self._instance,
                "role": role.value,
                "epoch": epoch,
                "reason": reason,
                "version": version,
                "t_ns": self._clock(),
            },
        )

    def replication(self, lag_ms: float, backlog: int) -> None:
        self._put(
            "replication",
            {"instance": self._instance, "lag_ms": lag_ms, "backlog": backlog, "t_ns": self._clock()},
        )

    def store_backlog(self, backlog: StoreBacklog) -> None:
        """The database writer's backlog (``<prefix>.store_backlog``), while there is one."""
        self._put("store_backlog", {"instance": self._instance, **backlog.as_dict(), "t_ns": self._clock()})

    def output(self, suffix: str, body: Mapping[str, Any]) -> None:
        """What this instance computed for one input event (``outputs`` / ``shadow.outputs``)."""
        self._put(suffix, body)

    def loop_lag(self, summary: Mapping[str, float | int]) -> None:
        """How late this process's event loop ran over the last window (``<prefix>.looplag``)."""
        self._put("looplag", {"instance": self._instance, **summary, "t_ns": self._clock()})

    def pnl(self, pnl: float, peak: float) -> None:
        self._put("pnl", {"instance": self._instance, "pnl": pnl, "peak": peak, "t_ns": self._clock()})

    def market_data(self, suffix: str, body: Mapping[str, Any]) -> None:
        """Feed state and switches (``<prefix>.feeds``), priced orders (``<prefix>.pricing``): issue 16."""
        self._put(suffix, {"instance": self._instance, **body, "t_ns": self._clock()})

    def alert(self, alert: str, detail: Mapping[str, Any]) -> None:
        self._put(
            "alerts",
            {"instance": self._instance, "alert": alert, "detail": dict(detail), "t_ns": self._clock()},
        )

    def _put(self, suffix: str, body: Mapping[str, Any]) -> None:
        self._queue.put_nowait((f"{self._prefix}.{suffix}", json.dumps(body).encode()))

    # -- delivery ------------------------------------------------------------------------
    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        """Publish in queue order with up to ``PUBLISH_WINDOW`` acknowledgements outstanding.

        Messages go on the wire in order; a message whose acknowledgement fails is sent again on
        its own until the stream takes it (only then can a later message overtake it). Each
        acknowledgement is awaited until ``ACK_TIMEOUT_S`` after *its* send: after a partition the
        window's lost acknowledgements are given up together, not one timeout after another.
        """
        loop = asyncio.get_running_loop()
        outstanding: deque[tuple[str, bytes, asyncio.Future[Any], float]] = deque()
        while True:
            if outstanding and (len(outstanding) >= PUBLISH_WINDOW or self._queue.empty()):
                await self._settle(*outstanding.popleft())
                continue
            subject, data = await self._queue.get()
            try:
                ack = await self._js.publish_async(subject, data)
            except nats.errors.Error as err:
                log.warning("publish %s not sent (%s)", subject, err)
                ack = asyncio.get_running_loop().create_future()
                ack.set_exception(err)
            outstanding.append((subject, data, ack, loop.time() + ACK_TIMEOUT_S))

    async def _settle(self, subject: str, data: bytes, ack: asyncio.Future[Any], deadline: float) -> None:
        try:
            async with asyncio.timeout_at(deadline):
                await ack
        except (TimeoutError, nats.errors.Error) as err:
            log.warning("publish %s not acknowledged (%s); sending it again", subject, err)
            await self._publish_until_acked(subject, data)
        self.published += 1
        self._queue.task_done()

    async def _publish_until_acked(self, subject: str, data: bytes) -> None:
        delay = 0.05
        while True:
            try:
                async with asyncio.timeout(ACK_TIMEOUT_S):
                    await self._js.publish(subject, data)
                return
            except (TimeoutError, nats.errors.Error) as err:
                log.warning("publish %s failed (%s); retrying", subject, err)
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)

    async def flush(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._queue.join()


class Mirror:
    """Standby side: replays ``<prefix>.>`` from the start into a Book.

    What the stream replicates is fills and positions (and the orders that have fills); an order
    that rests without a fill is state the stream does not carry (seed 002's out-of-band state):
    a promoted instance must sync it from the database. The mirror also measures replication
    lag: the age of each event it applies, by the publisher's clock stamp.
    """

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        prefix: str,
        book: Book,
        on_epoch: Callable[[int], None] = lambda _epoch: None,
        clock: MonotonicNs = monotonic_ns,
    ) -> None:
        self._js = js
        self._stream = stream
        self._prefix = prefix
        self._book = book
        self._on_epoch = on_epoch
        self._clock = clock
        self._sub: Any = None
        self._caught_up = False
        self._lag_peak_ns = 0
        self._pending = 0
        self.applied = 0

    def take_lag_sample(self) -> tuple[float, int]:
        """The largest event age applied since the last sample (ms), and the messages still pending."""
        peak, self._lag_peak_ns = self._lag_peak_ns, 0
        return round(peak / 1e6, 3), self._pending

    @property
    def caught_up(self) -> bool:
        return self._caught_up

    async def start(self) -> None:
        info = await self._js.stream_info(self._stream)
        if info.state.messages == 0:
            self._caught_up = True
        self._sub = await self._js.subscribe(
            f"{self._prefix}.>",
            stream=self._stream,
            cb=self._on_msg,
            ordered_consumer=True,
            idle_heartbeat=1.0,
        )

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _on_msg(self, msg: Msg) -> None:
        try:
            body = json.loads(msg.data)
            self.apply(msg.subject, body)
            self._note_age(body)
        except (ValueError, KeyError, TypeError) as err:
            log.warning("mirror skipped a bad %s message: %s", msg.subject, err)
        with contextlib.suppress(Exception):
            self._pending = int(msg.metadata.num_pending)
            if self._pending == 0:
                self._caught_up = True

    def _note_age(self, body: Mapping[str, Any]) -> None:
        stamp = body.get("t_ns")
        if isinstance(stamp, int) and self._caught_up:
            self._lag_peak_ns = max(self._lag_peak_ns, self._clock() - stamp)

    def apply(self, subject: str, body: Mapping[str, Any]) -> None:
        """Apply one stream message to the book (pure w.r.t. I/O)."""
        kind = subject.rsplit(".", 1)[-1]
        if kind == "orders":
            corr = body.get("corr")
            order = Order.model_validate({**body["order"], "corr": corr if valid_corr(corr) else None})
            known = self._book.knows(order.order_id)
            if order.cum_qty > 0 or known:
                self._book.add_order(order)
                if not known:
                    log_order("order_mirrored", "order learnt from the stream", order)
        elif kind == "fills":
            self._book.apply_fill(Fill.model_validate(body))
        elif kind == "positions":
            self._book.replace_positions(body["positions"], int(body["fills"]))
        elif kind == "roles":
            self._on_epoch(int(body.get("epoch", 0)))
        self.applied += 1
