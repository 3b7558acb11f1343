"""The OMS's side of NATS: the connection, the event publisher, the standby's mirror of the stream
and a shadow's feed (docs/deploy.md §2.2). Part of :class:`~trading_stack.oms.Oms`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from trading_stack.book import Book
from trading_stack.clock import MonotonicNs
from trading_stack.config import OmsConfig
from trading_stack.deploy.outputs import SHADOW_OUTPUTS_SUBJECT, output_for
from trading_stack.deploy.versions import BookedFill
from trading_stack.events import EventPublisher, Mirror, connect_nats, ensure_stream
from trading_stack.lease import lease_bucket
from trading_stack.models import Fill
from trading_stack.roles import Role, RoleMachine
from trading_stack.shadow import ShadowFeed

log = logging.getLogger(__name__)

REPLICATION_SAMPLE_INTERVAL_S = 0.25
RETRY_S = 0.5

Spawn = Callable[[Coroutine[Any, Any, Any], str], "asyncio.Task[Any]"]


class OmsStreams:
    """The NATS connection and what reads or writes the stream; ``ready`` is set once all are set up.

    ``publisher``, ``mirror`` and ``shadow`` are None until then (a shadow feed until one runs).
    """

    def __init__(self, config: OmsConfig, book: Book, roles: RoleMachine, clock: MonotonicNs, spawn: Spawn,
                 stopping: Callable[[], bool]) -> None:
        self._config = config
        self._book = book
        self._roles = roles
        self._clock = clock
        self._spawn = spawn
        self._stopping = stopping
        self.nc: NatsClient | None = None
        self.js: JetStreamContext | None = None
        self.publisher: EventPublisher | None = None
        self.mirror: Mirror | None = None
        self.shadow: ShadowFeed | None = None
        self.ready = asyncio.Event()
        self.seen_epoch = 0  # the highest lease epoch the mirror saw on the stream

    # -- what the checks ask -----------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    @property
    def mirror_caught_up(self) -> bool:
        return self.mirror is not None and self.mirror.caught_up

    # -- set-up --------------------------------------------------------------------------
    async def connect(self, bucket: str) -> Any:
        """Connect, make sure the stream and the lease bucket exist (retrying); returns the bucket."""
        config = self._config
        nc = await connect_nats(config.nats_url, name=f"oms-{config.instance_id}")
        self.nc = nc
        js = self.js = nc.jetstream(timeout=2.0)
        while True:
            try:
                await ensure_stream(js, config.stream, config.subject_prefix)
                return await lease_bucket(js, bucket, config.lease_ttl_s)
            except Exception as err:
                log.warning("NATS setup failed (%s); retrying", err)
                await asyncio.sleep(RETRY_S)

    def open(self) -> None:
        """Start publishing and set up the mirror (not started) with its lag sampling; then ``ready``."""
        config, js = self._config, self.js
        assert js is not None
        self.publisher = EventPublisher(js, config.subject_prefix, config.instance_id, self._clock)
        self._spawn(self.publisher.run(), "publisher")
        self.mirror = Mirror(js, config.stream, config.subject_prefix, self._book, on_epoch=self._note_epoch,
                             clock=self._clock)
        self._spawn(self._sample_replication_lag(), "replication-lag")
        self.ready.set()

    def _note_epoch(self, epoch: int) -> None:
        self.seen_epoch = max(self.seen_epoch, epoch)

    async def retry(self, what: str, start: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``start`` until it succeeds or the OMS stops."""
        while not self._stopping():
            try:
                await start()
                return
            except Exception as err:
                log.warning("%s failed (%s); retrying", what, err)
                await asyncio.sleep(RETRY_S)

    async def _sample_replication_lag(self) -> None:
        while True:
            await asyncio.sleep(REPLICATION_SAMPLE_INTERVAL_S)
            mirror, publisher = self.mirror, self.publisher
            if self._roles.role is Role.STANDBY and mirror is not None and publisher is not None \
                    and mirror.caught_up:
                publisher.replication(*mirror.take_lag_sample())

    # -- the feeds -----------------------------------------------------------------------
    async def start_mirror(self) -> None:
        if self.mirror is not None:
            await self.retry("mirror start", self.mirror.start)

    async def start_shadow(self) -> None:
        """Compute in the dark: book the stream's fills, publish the outputs as the shadow's."""
        assert self.js is not None
        config = self._config
        feed = self.shadow = ShadowFeed(self.js, config.stream, config.subject_prefix, self._book,
                                        self._shadow_booked, self._clock)
        await self.retry("shadow feed start", feed.start)

    def _shadow_booked(self, fill: Fill, booked: BookedFill, processed_ns: int) -> None:
        if self.publisher is not None:
            output = output_for(self._config.instance_id, self._book.version, fill, booked.position,
                                processed_ns)
            self.publisher.output(SHADOW_OUTPUTS_SUBJECT, output.model_dump(mode="json"))

    async def stop_feeds(self) -> None:
        if self.mirror is not None:
            await self.mirror.stop()
        shadow, self.shadow = self.shadow, None
        if shadow is not None:
            await shadow.stop()

    # -- publishing ----------------------------------------------------------------------
    def publish_positions(self) -> None:
        if self.publisher is not None:
            self.publisher.positions(self._book.positions, self._book.fill_count)

    def publish_alert(self, alert: str, detail: Mapping[str, Any]) -> None:
        if self.publisher is not None:
            self.publisher.alert(alert, detail)

    # -- shutdown ------------------------------------------------------------------------
    async def flush(self, timeout_s: float) -> None:
        if self.publisher is not None:
            await self.publisher.flush(timeout_s)

    async def close(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self.nc.close()
