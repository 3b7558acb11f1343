"""One market-data feed: its sequence, its publishing rounds, its subscribers (contracts §10).

A feed publishes the venue's own price process (the quotes the matching engine fills at) at
``updates_per_s`` per symbol, in rounds: each round (every :data:`MIN_ROUND_S` to
:data:`MAX_ROUND_S`) numbers the updates that are due (``seq`` +1 each, one sequence for every
subscriber), serializes each once, and writes each subscriber the frames of its symbols in one
write. A round does bounded work (at most :data:`MAX_UPDATES_PER_ROUND` updates; a round that
comes late publishes what one late round may, not the backlog), so the matching loop, which
shares the event loop, is never held up for long. Connections that got nothing for ``heartbeat_s``
get a heartbeat.

Feed faults (:class:`~mock_exchange.md.fault_view.FeedFaultView`) act here: a stall sends nothing
(requests for snapshots are answered when it heals), a gap spends seqs without sending, a
duplicate sends an update twice, a reorder holds every other update until the next one is sent,
a burst multiplies the rate; stale, drift and crossed change the prices the feed shows.

What the feed published is summed up per symbol in a :class:`Window` the ledger recorder takes
every 100 ms (:mod:`mock_exchange.md.recorder`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from mock_exchange.config import FeedConfig
from mock_exchange.faults import Fault, FaultKind
from mock_exchange.md.fault_view import FeedFaultView, true_quote
from mock_exchange.md.frames import FeedQuote, FrameEncoder
from mock_exchange.md.requests import FeedRequest, Op, RequestError, parse_request
from mock_exchange.md.subscriber import Subscriber
from mock_exchange.prices import PriceProcess

log = logging.getLogger(__name__)

MIN_ROUND_S = 0.005
MAX_ROUND_S = 0.05
MAX_UPDATES_PER_ROUND = 1_000
"""200,000 updates a second at the shortest round: beyond, the feed publishes less than asked"""
MAX_LATE_S = 0.1
"""a round that comes later than this after the last publishes no more than this much time's worth"""
REPEAT_LOG_INTERVAL_S = 10.0


@dataclass(slots=True)
class Window:
    """What a feed published of one symbol since the recorder last looked."""

    symbol: str
    seq_first: int
    seq_last: int
    updates: int
    """updates sent (a duplicate counts once)"""
    dropped: int
    """seqs spent without sending (a gap)"""
    quote: FeedQuote
    """the latest update's prices"""
    t_ns: int
    """when the latest update was numbered"""


class Feed:
    """One feed of the venue's prices (``run`` publishes until cancelled)."""

    def __init__(
        self,
        config: FeedConfig,
        prices: Mapping[str, PriceProcess],
        *,
        clock: Callable[[], float] = time.monotonic,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.config = config
        self.name = config.name
        self.faults = FeedFaultView(config.name, prices)
        self.seq = 0
        """the last update's seq"""
        self.subscribers: set[Subscriber] = set()
        self._prices = prices
        self._symbols = tuple(prices)
        self._clock = clock
        self._clock_ns = clock_ns
        self._encoder = FrameEncoder(config.name)
        self._credit = dict.fromkeys(self._symbols, 0.0)
        self._last_round: float | None = None
        self._shown: dict[str, FeedQuote] = {}
        self._windows: dict[str, Window] = {}
        self._held: tuple[str, bytes] | None = None
        self.round_s = _round_interval(config, len(self._symbols))
        self._failing_since: float | None = None
        self._failures = 0

    # -- subscribers -----------------------------------------------------------------------

    def add(self, subscriber: Subscriber) -> None:
        self.subscribers.add(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        subscriber.gone = True
        self.subscribers.discard(subscriber)

    def on_text(self, subscriber: Subscriber, text: str, now: float) -> None:
        """A client's request: snapshots (after a subscribe, updates follow), or an error frame."""
        try:
            request = parse_request(text, self._symbols)
        except RequestError as error:
            self.send_error(subscriber, str(error), now)
            return
        self.on_request(subscriber, request, now)

    def on_request(self, subscriber: Subscriber, request: FeedRequest, now: float) -> None:
        if request.op is Op.SUBSCRIBE:
            subscriber.symbols = request.symbols
        if self.faults.silent:
            subscriber.pending_snapshots |= request.symbols
            return
        self._send_snapshots(subscriber, request.symbols, now)

    def send_error(self, subscriber: Subscriber, reason: str, now: float) -> None:
        """An ``error`` frame (none while the feed is stalled: it sends nothing)."""
        if not self.faults.silent:
            subscriber.write(self._encoder.error(reason), now)

    def _send_snapshots(self, subscriber: Subscriber, symbols: Iterable[str], now: float) -> None:
        sent_ns = self._clock_ns()
        frames = [
            self._encoder.snapshot(self.seq, sent_ns, self._encoder.tail(symbol, self.current(symbol)))
            for symbol in sorted(symbols)
        ]
        if frames:
            subscriber.write(b"".join(frames), now)

    def current(self, symbol: str) -> FeedQuote:
        """What the feed says about ``symbol`` now: its latest update's prices (before any, the
        prices its next update would carry)."""
        shown = self._shown.get(symbol)
        if shown is None:
            shown = self.faults.shown(symbol, true_quote(self._prices[symbol]))
        return shown

    # -- faults ----------------------------------------------------------------------------

    def on_fault_change(self, kind: FaultKind, fault: Fault | None) -> None:
        """A change of the venue's faults; a healed stall answers the snapshots asked for during it."""
        if not self.faults.change(kind, fault) or self.faults.silent:
            return
        now = self._clock()
        for subscriber in list(self.subscribers):
            if subscriber.pending_snapshots:
                pending, subscriber.pending_snapshots = subscriber.pending_snapshots, set()
                self._send_snapshots(subscriber, pending, now)

    # -- publishing ------------------------------------------------------------------------

    async def run(self) -> None:
        """Publish a round every :attr:`round_s` until cancelled (a round that fails is logged)."""
        next_round = self._clock()
        while True:
            next_round += self.round_s
            delay = next_round - self._clock()
            if delay < 0:  # late: start again from now instead of catching up
                next_round, delay = self._clock(), 0.0
            await asyncio.sleep(delay)
            self._guarded_round()

    def _guarded_round(self) -> None:
        now = self._clock()
        try:
            self.publish(now)
        except Exception:
            self._failures += 1
            if self._failing_since is None or now - self._failing_since >= REPEAT_LOG_INTERVAL_S:
                log.exception("feed %s: a publishing round failed (%d so far)", self.name, self._failures)
                self._failing_since = now
            return
        self._failing_since = None

    def publish(self, now: float) -> None:
        """One round: the updates due since the last, then heartbeats."""
        elapsed = 0.0 if self._last_round is None else min(now - self._last_round, MAX_LATE_S)
        self._last_round = now
        if self.faults.silent:
            return
        frames: list[tuple[str, bytes]] = []
        if self._held is not None and not self.faults.reorders(self._held[0]):
            frames.append(self._held)  # a reorder healed: the update it held goes now
            self._held = None
        due = self._due(max(elapsed, 0.0))
        if due:
            self._number(due, frames)
        if frames and self.subscribers:
            self._deliver(frames, now)
        self._heartbeats(now)

    def _due(self, elapsed: float) -> list[str]:
        """The symbols of this round's updates, interleaved (each symbol's credit accrues its rate)."""
        faults = self.faults if self.faults.any else None
        counts: list[tuple[str, int]] = []
        total = 0
        for symbol in self._symbols:
            rate = self.config.updates_per_s
            if faults is not None:
                if faults.stalls(symbol):
                    self._credit[symbol] = 0.0
                    continue
                rate *= faults.multiplier(symbol)
            credit = self._credit[symbol] + rate * elapsed
            count = int(credit)
            self._credit[symbol] = credit - count
            if count:
                counts.append((symbol, count))
                total += count
        if total > MAX_UPDATES_PER_ROUND:  # more than a round may: publish a share of each
            counts = [(symbol, max(1, count * MAX_UPDATES_PER_ROUND // total)) for symbol, count in counts]
        if len(counts) == 1:
            symbol, count = counts[0]
            return [symbol] * count
        due: list[str] = []
        for index in range(max((count for _, count in counts), default=0)):
            due.extend(symbol for symbol, count in counts if count > index)
        return due

    def _number(self, due: list[str], frames: list[tuple[str, bytes]]) -> None:
        """Give each due update its seq and its frame (through the faults, when any is armed)."""
        encoder, clock_ns = self._encoder, self._clock_ns
        faults = self.faults if self.faults.any else None
        tails: dict[str, bytes] = {}
        quotes: dict[str, FeedQuote] = {}
        for symbol in set(due):
            quote = true_quote(self._prices[symbol])
            if faults is not None:
                quote = faults.shown(symbol, quote)
            quotes[symbol] = quote
            tails[symbol] = encoder.tail(symbol, quote)
        # per symbol: first seq, last seq, sent, dropped, the last one's time
        counts: dict[str, list[int]] = {symbol: [0, 0, 0, 0, 0] for symbol in tails}
        seq = self.seq
        serialize = bool(self.subscribers)
        for symbol in due:
            seq += 1
            sent_ns = clock_ns()
            tally = counts[symbol]
            if not tally[0]:
                tally[0] = seq
            tally[1] = seq
            tally[4] = sent_ns
            if faults is not None and faults.drops(symbol):
                tally[3] += 1
                continue
            tally[2] += 1
            if not serialize:
                continue
            frame = encoder.update(seq, sent_ns, tails[symbol])
            if faults is None:
                frames.append((symbol, frame))
            else:
                self._faulted(symbol, frame, frames, faults)
        self.seq = seq
        for symbol, (first, last, sent, dropped, t_ns) in counts.items():
            self._tally(symbol, first, last, sent, dropped, quotes[symbol], t_ns)

    def _faulted(
        self, symbol: str, frame: bytes, frames: list[tuple[str, bytes]], faults: FeedFaultView
    ) -> None:
        """Queue one update's frame as the duplicate and reorder faults have it."""
        copies = [(symbol, frame), (symbol, frame)] if faults.duplicates(symbol) else [(symbol, frame)]
        if not faults.reorders(symbol):
            frames.extend(copies)
        elif self._held is None:
            self._held = copies[0]
            frames.extend(copies[1:])
        else:
            frames.extend(copies)
            frames.append(self._held)
            self._held = None

    def _tally(self, symbol: str, first: int, last: int, sent: int, dropped: int, quote: FeedQuote,
               t_ns: int) -> None:
        self._shown[symbol] = quote
        window = self._windows.get(symbol)
        if window is None:
            self._windows[symbol] = Window(symbol, first, last, sent, dropped, quote, t_ns)
            return
        window.seq_last, window.quote, window.t_ns = last, quote, t_ns
        window.updates += sent
        window.dropped += dropped

    def _deliver(self, frames: list[tuple[str, bytes]], now: float) -> None:
        """Each subscriber its symbols' frames in one write (the same bytes for the same symbols)."""
        joined: dict[frozenset[str], bytes] = {}
        for subscriber in list(self.subscribers):
            wanted = subscriber.symbols
            if not wanted:
                continue
            data = joined.get(wanted)
            if data is None:
                data = joined[wanted] = b"".join(frame for symbol, frame in frames if symbol in wanted)
            if data:
                subscriber.write(data, now)

    def _heartbeats(self, now: float) -> None:
        idle_since = now - self.config.heartbeat_s
        heartbeat: bytes | None = None
        for subscriber in list(self.subscribers):
            if subscriber.last_write <= idle_since:
                if heartbeat is None:
                    heartbeat = self._encoder.heartbeat(self.seq, self._clock_ns())
                subscriber.write(heartbeat, now)

    def take_windows(self) -> list[Window]:
        """What was published since the last call, per symbol (the recorder's 100 ms lines)."""
        windows, self._windows = list(self._windows.values()), {}
        return windows


def _round_interval(config: FeedConfig, symbols: int) -> float:
    """One update per round at low rates, within [MIN_ROUND_S, MAX_ROUND_S] and a quarter heartbeat."""
    ideal = 1.0 / (config.updates_per_s * max(symbols, 1))
    return max(MIN_ROUND_S, min(ideal, MAX_ROUND_S, config.heartbeat_s / 4))
