"""What the OMS knows about one feed: its quotes, sequence, clocks and gap recovery (pure, fed a clock).

Rules (issue 16, the agreed protocol):

- **sequence**: an update numbered at or below the last one seen is a duplicate or arrived out of
  order: ignored (counted). An update or heartbeat numbered beyond the next one reveals a gap:
  updates were lost, so a snapshot of every symbol is requested (at most once per
  ``snapshot_retry``, and again after it while unanswered); the gap is recovered once each symbol
  has a snapshot at or after the seq that revealed it. A new gap before that moves the bar
  (recovery starts over, its clock does not).
- **quotes**: each update carries a symbol's whole top of book. A crossed one (bid above ask) is
  rejected: the symbol keeps its last good quote, which ages, and the feed is flagged crossed
  until a good quote for that symbol comes. A snapshot never rolls a symbol back to an older seq.
- **clocks**: the feed's age is the time since its last message of any kind. A quote is as fresh
  as the last message that proves it current: its own update, or a heartbeat whose seq is the last
  one seen (the feed says nothing was published since). The time of the last price change (any
  symbol's bid or ask, and each symbol's) is kept too, to catch a feed whose prices froze while
  its seq advances.
- **connections**: quotes of an earlier connection are dropped on a reconnect (updates were
  missed meanwhile); the subscription's snapshots bring them back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from trading_stack.market_data.messages import BadFrame, FeedError, Frame, Heartbeat, QuoteFrame

__all__ = ["FeedCounters", "FeedState", "GapRecovery", "Quote"]


@dataclass(frozen=True, slots=True)
class Quote:
    bid: float
    ask: float
    last: float | None
    seq: int
    received_ns: int

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@dataclass(slots=True)
class GapRecovery:
    gap_seq: int
    """a snapshot of a symbol at or after this seq recovers that symbol"""
    since_ns: int
    """when the first gap not yet recovered was seen"""
    pending: set[str]


@dataclass(slots=True)
class FeedCounters:
    updates: int = 0
    snapshots: int = 0
    heartbeats: int = 0
    duplicates: int = 0
    gaps: int = 0
    recoveries: int = 0
    crossed: int = 0
    bad_frames: int = 0
    errors: int = 0
    connections: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class FeedState:
    name: str
    watched: tuple[str, ...] = ()
    """the symbols that must be kept current; () = every symbol the feed has sent. (The OMS always
    subscribes to every symbol: one seq runs over all of them, so only then is a skipped seq a gap.)"""
    snapshot_retry_ns: int = 250_000_000
    connected: bool = False
    last_seq: int | None = None
    last_msg_ns: int | None = None
    last_change_ns: int | None = None
    changed_ns: dict[str, int] = field(default_factory=dict)
    """when each symbol's bid or ask last changed (kept across reconnects)"""
    confirmed_ns: int | None = None
    quotes: dict[str, Quote] = field(default_factory=dict)
    last_known: dict[str, Quote] = field(default_factory=dict)
    """every symbol's last good quote, kept across reconnects (only a defect prices off it)"""
    crossed: dict[str, int] = field(default_factory=dict)
    gap: GapRecovery | None = None
    requested_ns: int | None = None
    """when a snapshot was last asked for: at most one per ``snapshot_retry_ns``, gap after gap, so a
    feed that reorders every other update is never flooded with requests"""
    counters: FeedCounters = field(default_factory=FeedCounters)
    _seen: set[str] = field(default_factory=set)
    _prices: dict[str, tuple[float, float]] = field(default_factory=dict)

    # -- connection ----------------------------------------------------------------------
    def on_connected(self) -> None:
        self.connected = True
        self.counters.connections += 1
        self.last_seq = None
        self.confirmed_ns = None
        self.quotes.clear()
        self.crossed.clear()
        self.gap = None

    def on_disconnected(self) -> None:
        self.connected = False

    # -- frames --------------------------------------------------------------------------
    def on_frame(self, frame: Frame, now: int) -> None:
        self.last_msg_ns = now
        if isinstance(frame, QuoteFrame):
            if frame.snapshot:
                self._on_snapshot(frame, now)
            else:
                self._on_update(frame, now)
        elif isinstance(frame, Heartbeat):
            self._on_heartbeat(frame, now)
        elif isinstance(frame, FeedError):
            self.counters.errors += 1
        elif isinstance(frame, BadFrame):
            self.counters.bad_frames += 1

    def _on_update(self, frame: QuoteFrame, now: int) -> None:
        last = self.last_seq
        if last is not None and frame.seq <= last:
            self.counters.duplicates += 1
            return
        if last is not None and frame.seq > last + 1:
            self._gap_seen(frame.seq, now)
        self.last_seq = frame.seq
        self.counters.updates += 1
        self._apply(frame, now)

    def _on_snapshot(self, frame: QuoteFrame, now: int) -> None:
        self.counters.snapshots += 1
        self.last_seq = frame.seq if self.last_seq is None else max(self.last_seq, frame.seq)
        current = self.quotes.get(frame.symbol)
        if current is None or frame.seq >= current.seq:
            self._apply(frame, now)
        gap = self.gap
        if gap is not None and frame.seq >= gap.gap_seq:
            gap.pending.discard(frame.symbol)
            gap.pending.discard("*")
            if not gap.pending:
                self.gap = None
                self.counters.recoveries += 1

    def _on_heartbeat(self, frame: Heartbeat, now: int) -> None:
        self.counters.heartbeats += 1
        if self.last_seq is None:
            self.last_seq = frame.seq
        elif frame.seq > self.last_seq:
            self._gap_seen(frame.seq, now)
            self.last_seq = frame.seq
        elif frame.seq == self.last_seq and self.gap is None:
            self.confirmed_ns = now

    def _gap_seen(self, seq: int, now: int) -> None:
        self.counters.gaps += 1
        pending = set(self._seen)
        if self.gap is None:
            self.gap = GapRecovery(gap_seq=seq, since_ns=now, pending=pending)
        else:
            self.gap.gap_seq = max(self.gap.gap_seq, seq)
            self.gap.pending = pending
        if not pending:  # nothing known yet: the first snapshot at or after the gap recovers it
            self.gap.pending = {"*"}

    def _apply(self, frame: QuoteFrame, now: int) -> None:
        symbol = frame.symbol
        self._seen.add(symbol)
        if frame.crossed:
            self.counters.crossed += 1
            self.crossed.setdefault(symbol, now)
            return
        self.crossed.pop(symbol, None)
        prices = (frame.bid, frame.ask)
        if self._prices.get(symbol) != prices:
            self.last_change_ns = self.changed_ns[symbol] = now
            self._prices[symbol] = prices
        quote = Quote(frame.bid, frame.ask, frame.last, frame.seq, now)
        self.quotes[symbol] = self.last_known[symbol] = quote

    # -- gap recovery --------------------------------------------------------------------
    def snapshot_request(self, now: int) -> tuple[str, ...] | None:
        """The symbols to ask a snapshot of now (``()``: every symbol, the only answer a gap in the
        feed-wide seq can take), or None: nothing to ask."""
        if self.gap is None or not self.connected:
            return None
        if self.requested_ns is not None and now - self.requested_ns < self.snapshot_retry_ns:
            return None
        self.requested_ns = now
        return ()

    # -- what the selector reads ---------------------------------------------------------
    def symbols(self) -> tuple[str, ...]:
        """The symbols this feed must keep current: those watched, else every one it has sent."""
        return self.watched or tuple(sorted(self._seen))

    def age_ns(self, now: int) -> int | None:
        return None if self.last_msg_ns is None else now - self.last_msg_ns

    def quote_age_ns(self, symbol: str, now: int) -> int | None:
        quote = self.quotes.get(symbol)
        if quote is None:
            return None
        return now - max(quote.received_ns, self.confirmed_ns or 0)

    def stalest_quote(self, now: int) -> tuple[str | None, int | None]:
        """The symbol whose quote is oldest and its age; age None when a symbol has no quote (yet)."""
        symbols = self.symbols()
        if not symbols:
            return None, None
        worst_symbol, worst_age = symbols[0], -1
        for symbol in symbols:
            age = self.quote_age_ns(symbol, now)
            if age is None:
                return symbol, None
            if age > worst_age:
                worst_symbol, worst_age = symbol, age
        return worst_symbol, worst_age

    def price_age_ns(self, now: int) -> int | None:
        return None if self.last_change_ns is None else now - self.last_change_ns
