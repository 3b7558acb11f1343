"""One feed's connection: subscribe, read, recover gaps by snapshot, reconnect with backoff.

The handler owns the socket; everything it learns goes into its
:class:`~trading_stack.market_data.feed_state.FeedState`, which the selector reads. A connection
silent for ``silence_reconnect_ms`` is dropped and made again (a half-open TCP connection, e.g.
behind a partitioned proxy, never tells its reader); reconnects back off from
``reconnect_initial_s`` to ``reconnect_max_s`` and start again from the bottom after a connection
that delivered quotes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from trading_stack.clock import MonotonicNs
from trading_stack.market_data.config import MarketDataConfig
from trading_stack.market_data.feed_state import FeedState
from trading_stack.market_data.messages import BadFrame, FeedError, parse_frame, snapshot, subscribe

log = logging.getLogger(__name__)

__all__ = ["FeedHandler"]

CONNECT_TIMEOUT_S = 2.0
MAX_FRAME_BYTES = 1 << 20
LOGGED_BAD_FRAMES = 5


class FeedHandler:
    def __init__(self, state: FeedState, url: str, config: MarketDataConfig, clock: MonotonicNs,
                 session: aiohttp.ClientSession) -> None:
        self.state = state
        self._url = url
        self._config = config
        self._clock = clock
        self._session = session
        self._logged_bad = 0

    async def run(self) -> None:
        """Until cancelled: connect, read, and reconnect after any loss."""
        delay = self._config.reconnect_initial_s
        while True:
            delivered = False
            try:
                delivered = await self._connection()
            except (aiohttp.ClientError, OSError, TimeoutError) as err:
                log.warning("feed %s: connection to %s failed (%s: %s)", self.state.name, self._url,
                            type(err).__name__, err)
            finally:
                self.state.on_disconnected()
            if delivered:
                delay = self._config.reconnect_initial_s
            log.info("feed %s: reconnecting in %.2fs", self.state.name, delay)
            await asyncio.sleep(delay)
            delay = min(self._config.reconnect_max_s, delay * 2)

    async def _connection(self) -> bool:
        """One connection; whether it delivered any quote."""
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            ws = await self._session.ws_connect(self._url, autoping=True, max_msg_size=MAX_FRAME_BYTES)
        try:
            state = self.state
            state.on_connected()
            log.info("feed %s: connected to %s", state.name, self._url)
            await ws.send_str(subscribe(()))  # every symbol: the feed's one seq has no gaps then
            quotes_before = state.counters.updates + state.counters.snapshots
            await self._read(ws)
            return state.counters.updates + state.counters.snapshots > quotes_before
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        silence_s = self._config.silence_reconnect_ms / 1000
        state = self.state
        while True:
            try:
                async with asyncio.timeout(silence_s):
                    message = await ws.receive()
            except TimeoutError:
                log.warning("feed %s: silent for %.1fs; reconnecting", state.name, silence_s)
                return
            if message.type is aiohttp.WSMsgType.TEXT:
                frame = parse_frame(message.data)
            elif message.type is aiohttp.WSMsgType.BINARY:
                frame = BadFrame("binary frame")
            else:
                log.warning("feed %s: connection ended (%s)", state.name, message.type.name)
                return
            now = self._clock()
            state.on_frame(frame, now)
            if isinstance(frame, BadFrame | FeedError):
                self._log_bad(frame)
            wanted = state.snapshot_request(now)
            if wanted is not None:
                log.info("feed %s: sequence gap (last seq %s); asking a snapshot", state.name, state.last_seq)
                await ws.send_str(snapshot(wanted))

    def _log_bad(self, frame: BadFrame | FeedError) -> None:
        if self._logged_bad < LOGGED_BAD_FRAMES:
            self._logged_bad += 1
            what = frame.reason if isinstance(frame, BadFrame) else f"error: {frame.error}"
            log.warning("feed %s: %s", self.state.name, what)
