"""Which feed the OMS trades on: each feed's health, divergence between feeds, the selection (pure).

**Health** of a feed, worst first: ``connecting`` (no connection, or no quote of a symbol since it
connected), ``stale`` (no message for longer than ``max_feed_age_ms``, or a symbol's quote older
than that), ``crossed`` (its last quote of a symbol was crossed and rejected), ``gapped`` (a
sequence gap not recovered by a snapshot within ``gap_recovery_ms``), ``frozen`` (stale but
sequenced: a symbol's updates keep coming for ``max_feed_age_ms`` without a price change while
another healthy feed's price of it moved ``frozen_move_bp``), ``diverged`` (an execution proved it
wrong, below), else ``healthy``. Only a healthy feed is *usable*.

**Divergence** (per symbol, between usable feeds): mids further apart than ``divergence_bp``. Which
one is wrong is decided by the third source, the venue's executions
(:mod:`~trading_stack.market_data.evidence`): a feed contradicted by a fill within
``reference_window_ms`` while the others are not (and agree among themselves) is judged wrong —
``diverged`` until its mid comes back within the threshold of a trusted feed. When no execution
decides, the symbol is **suspended**: the OMS prices nothing on it until the feeds agree again or
an execution decides. It never guesses, and a disagreement alone does not trip the feed breaker:
there is data, the OMS just does not know which to believe.

**Selection**: the primary while it is usable. When the selected feed stops being usable, the
primary if usable, else the first usable feed in config order, else none (nothing is priced).
Back to the primary once it has been usable for ``switch_back_after_ms`` without a break. At
start-up the primary is waited for up to ``max_feed_age_ms`` before another feed is taken.

Defects: ``no-feed-failover`` keeps the primary selected whatever its health; ``no-divergence-check``
never compares feeds (no feed is ever judged wrong, no symbol suspended).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from trading_stack.market_data.config import MarketDataConfig
from trading_stack.market_data.evidence import ExecutionEvidence
from trading_stack.market_data.feed_state import FeedState, Quote

log = logging.getLogger(__name__)

__all__ = ["FeedHealth", "FeedSelector", "FeedStatus", "Selection", "divergence_bp"]

NS_PER_MS = 1_000_000


class FeedHealth(StrEnum):
    HEALTHY = "healthy"
    CONNECTING = "connecting"
    STALE = "stale"
    CROSSED = "crossed"
    GAPPED = "gapped"
    FROZEN = "frozen"
    DIVERGED = "diverged"


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / NS_PER_MS, 1)


def divergence_bp(a: float, b: float) -> float:
    """How far apart two mids are, in bp of their average."""
    return abs(a - b) / ((a + b) / 2) * 10_000


@dataclass(frozen=True)
class FeedStatus:
    name: str
    health: FeedHealth
    reason: str | None
    connected: bool
    age_ms: float | None
    quote_age_ms: float | None
    price_age_ms: float | None
    seq: int | None
    counters: Mapping[str, int] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.health is FeedHealth.HEALTHY

    def as_dict(self) -> dict[str, Any]:
        return {"health": self.health.value, "reason": self.reason, "connected": self.connected,
                "age_ms": self.age_ms, "quote_age_ms": self.quote_age_ms, "price_age_ms": self.price_age_ms,
                "seq": self.seq, **self.counters}


@dataclass(frozen=True)
class Selection:
    feed: str | None
    previous: str | None
    reason: str
    statuses: Mapping[str, FeedStatus]
    suspended: Mapping[str, str]
    """symbol -> why nothing is priced on it (a divergence no execution decided)"""

    @property
    def switched(self) -> bool:
        return self.feed != self.previous

    @property
    def usable(self) -> tuple[str, ...]:
        return tuple(name for name, status in self.statuses.items() if status.usable)


@dataclass(frozen=True)
class _Wrong:
    symbol: str
    execution_price: float


class FeedSelector:
    def __init__(self, config: MarketDataConfig, start_ns: int, *, failover: bool = True,
                 divergence_check: bool = True) -> None:
        self._config = config
        self._start_ns = start_ns
        self._failover = failover
        self._divergence_check = divergence_check
        self._max_age_ns = config.max_feed_age_ms * NS_PER_MS
        self._gap_ns = config.gap_recovery_ms * NS_PER_MS
        self._switch_back_ns = config.switch_back_after_ms * NS_PER_MS
        self._threshold = config.divergence_bp
        self._selected: str | None = config.primary if not failover else None
        self._reason = "pinned to the primary" if not failover else "no feed yet"
        self._usable_since: dict[str, int] = {}
        self._wrong: dict[str, _Wrong] = {}
        self._anchors: dict[tuple[str, str], tuple[int, dict[str, float]]] = {}
        self.last_selected: str | None = self._selected

    @property
    def selected(self) -> str | None:
        return self._selected

    def evaluate(self, states: Mapping[str, FeedState], evidence: ExecutionEvidence, now: int) -> Selection:
        if self._divergence_check:
            for feed, symbol, price in evidence.judge({n: state.quotes for n, state in states.items()}, now):
                log.warning("an execution at %s contradicts feed %s on %s", price, feed, symbol)
        self._anchor(states)
        health = {name: self._base(state, now) for name, state in states.items()}
        sound = [name for name, (kind, _) in health.items() if kind is FeedHealth.HEALTHY]
        for name in sound:
            frozen = self._frozen(name, states, sound, now)
            if frozen is not None:
                health[name] = (FeedHealth.FROZEN, frozen)
        suspended: dict[str, str] = {}
        if self._divergence_check:
            live = [name for name in sound if health[name][0] is FeedHealth.HEALTHY]
            suspended = self._judge(states, live, evidence, now)
            for name, wrong in self._wrong.items():
                if health[name][0] is FeedHealth.HEALTHY:
                    health[name] = (FeedHealth.DIVERGED, f"{wrong.symbol} contradicted by an execution at "
                                                         f"{wrong.execution_price}")
        statuses = {name: self._status(name, states[name], *health[name], now) for name in states}
        usable = [name for name in self._config.feed_order if name in statuses and statuses[name].usable]
        for name in states:
            if name in usable:
                self._usable_since.setdefault(name, now)
            else:
                self._usable_since.pop(name, None)
        previous = self._selected
        if self._failover:
            self._selected, reason = self._choose(usable, statuses, now)
            if self._selected != previous or self._selected is None:  # why there is none stays current
                self._reason = reason
        if self._selected is not None:
            self.last_selected = self._selected
        return Selection(self._selected, previous, self._reason, statuses, suspended)

    # -- health --------------------------------------------------------------------------
    def _base(self, state: FeedState, now: int) -> tuple[FeedHealth, str | None]:
        limit = self._max_age_ns
        age = state.age_ns(now)
        if not state.connected:
            return FeedHealth.CONNECTING, "not connected"
        if age is None:
            return FeedHealth.CONNECTING, "nothing received yet"
        if age > limit:
            return FeedHealth.STALE, f"no message for {_ms(age)} ms"
        if state.crossed:
            crossed = min(state.crossed)
            crossed_for = _ms(now - state.crossed[crossed])
            return FeedHealth.CROSSED, f"{crossed} book crossed (bid above ask) for {crossed_for} ms"
        symbol, quote_age = state.stalest_quote(now)
        if symbol is None or quote_age is None:
            return FeedHealth.CONNECTING, "no quote yet" if symbol is None else f"no {symbol} quote yet"
        if quote_age > limit:
            return FeedHealth.STALE, f"{symbol} quote {_ms(quote_age)} ms old"
        gap = state.gap
        if gap is not None and now - gap.since_ns > self._gap_ns:
            return FeedHealth.GAPPED, (f"sequence gap (at seq {gap.gap_seq}) not recovered for "
                                       f"{_ms(now - gap.since_ns)} ms")
        return FeedHealth.HEALTHY, None

    def _anchor(self, states: Mapping[str, FeedState]) -> None:
        """At each feed's last price change of each symbol, what every other feed said of it next: its
        first quote received at or after the change. A quote from before (a feed stalled then, or just
        slower) shows the market before the change: the other feed catching up from it would look like a
        market that moved while this feed's price stood still, and a sound feed would be judged frozen."""
        for name, state in states.items():
            for symbol, changed in state.changed_ns.items():
                key = (name, symbol)
                anchor = self._anchors.get(key)
                if anchor is None or anchor[0] != changed:
                    anchor = self._anchors[key] = (changed, {})
                mids = anchor[1]
                for other, other_state in states.items():
                    if other == name or other in mids:
                        continue
                    quote = other_state.quotes.get(symbol)
                    if quote is not None and quote.received_ns >= changed:
                        mids[other] = quote.mid

    def _frozen(self, name: str, states: Mapping[str, FeedState], sound: list[str], now: int) -> str | None:
        """A symbol whose updates kept coming for the limit without a price change while another
        healthy feed's price of it moved ``frozen_move_bp`` (and 2 ticks) from where it was then.
        Each feed is measured against itself, so a feed off by a constant (a drift) is not frozen; a
        still market leaves every feed still, so none is."""
        state = states[name]
        for symbol, changed in state.changed_ns.items():
            quote = state.quotes.get(symbol)
            if quote is None or quote.received_ns - changed <= self._max_age_ns:
                continue
            then = self._anchors.get((name, symbol), (changed, {}))[1]
            for other in sound:
                theirs = states[other].quotes.get(symbol)
                if other == name or theirs is None or other not in then:
                    continue
                moved, start = abs(theirs.mid - then[other]), then[other]
                if moved + 1e-9 >= max(start * self._config.frozen_move_bp / 10_000, 2 * self._config.tick):
                    return (f"{symbol} prices unchanged for {_ms(now - changed)} ms of updates while "
                            f"{other}'s moved {moved / start * 10_000:.1f} bp")
        return None

    def _status(self, name: str, state: FeedState, health: FeedHealth, reason: str | None,
                now: int) -> FeedStatus:
        _, quote_age = state.stalest_quote(now)
        return FeedStatus(name, health, reason, state.connected, _ms(state.age_ns(now)), _ms(quote_age),
                          _ms(state.price_age_ns(now)), state.last_seq, state.counters.as_dict())

    # -- divergence ------------------------------------------------------------------------
    def _judge(self, states: Mapping[str, FeedState], live: list[str], evidence: ExecutionEvidence,
               now: int) -> dict[str, str]:
        """Judge divergent feeds by the executions; the symbols nothing decided (-> why)."""
        trusted = [name for name in live if name not in self._wrong]
        for name, wrong in list(self._wrong.items()):
            if self._agrees_with(states, name, wrong.symbol, trusted):
                del self._wrong[name]
        suspended: dict[str, str] = {}
        candidates = [name for name in live if name not in self._wrong]
        for symbol in sorted({s for name in candidates for s in states[name].quotes}):
            quotes = {name: q for name in candidates if (q := states[name].quotes.get(symbol)) is not None}
            spread = _widest(quotes)
            if spread is None or spread[2] <= self._threshold:
                continue
            contradicted = {name: price for name in quotes
                            if (price := evidence.contradicted(name, symbol, now)) is not None}
            right = {name: q for name, q in quotes.items() if name not in contradicted}
            agreeing = _widest(right)
            if contradicted and right and (agreeing is None or agreeing[2] <= self._threshold):
                for name, price in contradicted.items():
                    self._wrong[name] = _Wrong(symbol, price)
                candidates = [name for name in candidates if name not in contradicted]
                continue
            a, b, bp = spread
            window = self._config.reference_window_ms
            suspended[symbol] = (f"feeds diverge by {bp:.1f} bp on {symbol} ({a} mid {quotes[a].mid}, "
                                 f"{b} mid {quotes[b].mid}) and no execution within {window} ms "
                                 "says which is right")
        return suspended

    def _agrees_with(self, states: Mapping[str, FeedState], name: str, symbol: str,
                     trusted: list[str]) -> bool:
        mine = states[name].quotes.get(symbol)
        if mine is None:
            return False
        for other in trusted:
            theirs = states[other].quotes.get(symbol)
            if theirs is not None and divergence_bp(mine.mid, theirs.mid) <= self._threshold:
                return True
        return False

    # -- selection -----------------------------------------------------------------------
    def _choose(self, usable: list[str], statuses: Mapping[str, FeedStatus],
                now: int) -> tuple[str | None, str]:
        current, primary = self._selected, self._config.primary
        if current is not None and current in usable:
            since = self._usable_since.get(primary)
            if current != primary and since is not None and now - since >= self._switch_back_ns:
                return primary, f"back to {primary}: usable for {_ms(now - since)} ms"
            return current, self._reason
        if self.last_selected is None:  # start-up: the primary first, unless it has had its chance
            if primary in usable:
                return primary, f"start: {primary} usable"
            if statuses[primary].health is FeedHealth.CONNECTING and now - self._start_ns < self._max_age_ns:
                return None, f"start: waiting for the primary {primary}"
        if not usable:
            return None, f"no usable feed: {self._why_not(None, statuses)}"
        return usable[0], self._why_not(current, statuses)

    def _why_not(self, current: str | None, statuses: Mapping[str, FeedStatus]) -> str:
        shown = statuses if current is None else {current: statuses[current]}
        return "; ".join(f"{name} {s.health.value}" + (f": {s.reason}" if s.reason else "")
                         for name, s in shown.items())


def _widest(quotes: Mapping[str, Quote]) -> tuple[str, str, float] | None:
    """The two feeds whose mids are furthest apart, and by how much (bp); None for fewer than two."""
    pairs = [(a, b, divergence_bp(quotes[a].mid, quotes[b].mid))
             for a, b in itertools.combinations(quotes, 2)]
    return max(pairs, key=lambda pair: pair[2], default=None)
