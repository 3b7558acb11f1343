"""Playing a recorded market day (:mod:`mock_exchange.replay_file`) through the venue.

Armed as the ``replay`` fault, the day runs on the venue's clock ``speed`` times faster than
recorded, from the instant it is armed: an event recorded ``offset_s`` after the day's first
plays ``offset_s / speed`` seconds after arming. Ticks move each symbol's mid in a straight line
to its next tick (prices as returns: a symbol's first tick is pinned to its mid at arming);
``halt`` / ``resume`` halt and lift a symbol; a session ``close`` halts every symbol of the venue
until the ``open`` (a settlement break); ``fills`` changes how trades are reported (in pieces, at
several markets). Healed (or replaced), the replay stops where it is: the seeded walk resumes
from the mids reached, every halt it set is lifted and trades are reported as the venue does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import pairwise

from mock_exchange.faults import Replay
from mock_exchange.prices import PriceProcess
from mock_exchange.replay_file import (
    Fills,
    Halt,
    ReplayDay,
    ReplayEvent,
    Resume,
    Session,
    SessionState,
    Tick,
    parse_lines,
)
from mock_exchange.trading_status import HaltCause, TradingStatus


class ReplayDriver:
    """One armed replay: fires the day's events as the venue's clock reaches them."""

    def __init__(self, fault: Replay, status: TradingStatus, prices: Mapping[str, PriceProcess],
                 now: float, on_fills: Callable[[Fills | None], None] = lambda _fills: None) -> None:
        self.day: ReplayDay = parse_lines(fault.lines, fault.source)
        self._speed = fault.speed
        self._status = status
        self._prices = prices
        self._started = now
        self._on_fills = on_fills
        self._next = 0
        self._anchors: dict[str, tuple[float, float]] = {}
        """symbol -> (its first recorded px, its venue mid at arming)"""
        self._next_tick: dict[int, ReplayEvent] = {}
        for symbol in self.day.symbols:
            ticks = self.day.ticks(symbol)
            if symbol in prices and ticks:
                first = ticks[0].line
                assert isinstance(first, Tick)
                self._anchors[symbol] = (first.px, prices[symbol].mid)
            for this, following in pairwise(ticks):
                self._next_tick[this.line_number] = following

    @property
    def done(self) -> bool:
        return self._next >= len(self.day.events)

    def step(self, now: float) -> None:
        """Play every event due by ``now``."""
        played_s = (now - self._started) * self._speed
        events = self.day.events
        while self._next < len(events) and events[self._next].offset_s <= played_s:
            self._play(events[self._next])
            self._next += 1

    def stop(self) -> None:
        for symbol in self._anchors:
            self._prices[symbol].release()
        self._status.resume_all(HaltCause.REPLAY)
        self._status.resume_all(HaltCause.SESSION)
        self._on_fills(None)

    def _play(self, event: ReplayEvent) -> None:
        line = event.line
        if isinstance(line, Tick):
            self._move(event, line)
        elif isinstance(line, Halt):
            self._status.halt(line.symbol, HaltCause.REPLAY, f"replayed halt: {line.reason or 'halted'}")
        elif isinstance(line, Resume):
            self._status.resume(line.symbol, HaltCause.REPLAY)
        elif isinstance(line, Session):
            self._session(line)
        else:
            self._on_fills(line if line.markets or line.max_lots else None)

    def _move(self, event: ReplayEvent, tick: Tick) -> None:
        process = self._prices.get(tick.symbol)
        if process is None:
            return
        following = self._next_tick.get(event.line_number)
        target = following.line if following is not None else tick
        assert isinstance(target, Tick)
        over_s = 0.0 if following is None else (following.offset_s - event.offset_s) / self._speed
        process.release()
        process.follow((self._venue_px(target) / process.mid - 1.0) * 100.0, over_s)

    def _venue_px(self, tick: Tick) -> float:
        first_px, anchor_mid = self._anchors[tick.symbol]
        return anchor_mid * tick.px / first_px

    def _session(self, session: Session) -> None:
        if session.state is SessionState.OPEN:
            self._status.resume_all(HaltCause.SESSION)
            return
        detail = f"settlement break: session {session.date} closed" if session.date else "settlement break"
        for symbol in self._prices:
            self._status.halt(symbol, HaltCause.SESSION, detail)
