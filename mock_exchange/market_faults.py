"""Faults that change the market every session trades in: limit-up/limit-down bands and a replayed
day (:mod:`mock_exchange.market_status` acts on them). Neither takes a ``session``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from mock_exchange.fault_base import MAX_DURATION_S, MAX_SYMBOLS, FaultKind, FaultModel, Name, Text
from mock_exchange.replay_file import MAX_REPLAY_LINE_CHARS, MAX_REPLAY_LINES, ReplayFileError, parse_lines

MAX_BAND_PCT = 50.0
"""a limit-up/limit-down band is at most half the reference price either side"""
MAX_REPLAY_SPEED = 100_000.0


class _MarketWide(FaultModel):
    """A fault that changes the market every session trades in: a ``session`` is refused."""

    _scope: ClassVar[str] = "acts for every session"

    @field_validator("session")
    @classmethod
    def _every_session(cls, session: str | None) -> None:
        if session is not None:
            raise ValueError(f"{cls._scope}; leave session out")


class PriceBands(_MarketWide):
    """Limit-up/limit-down bands (:mod:`mock_exchange.price_bands`): ``band_pct`` percent either side
    of a reference price (the mid when armed, and again when a pause ends); a quote at a band's
    edge pauses the symbol for ``pause_s``."""

    kind: Literal[FaultKind.PRICE_BANDS] = FaultKind.PRICE_BANDS
    band_pct: float = Field(gt=0, le=MAX_BAND_PCT, allow_inf_nan=False)
    pause_s: float = Field(gt=0, le=MAX_DURATION_S, allow_inf_nan=False)
    symbols: tuple[Name, ...] | None = Field(default=None, min_length=1, max_length=MAX_SYMBOLS)
    """absent: every symbol of the venue"""

    _scope: ClassVar[str] = "price bands hold for every session"

    def covers(self, symbol: str) -> bool:
        return self.symbols is None or symbol in self.symbols


class Replay(_MarketWide):
    """A recorded market day (:mod:`mock_exchange.replay_file`) replayed ``speed`` times faster than
    recorded: its prices (as returns from each symbol's first tick), halts and session breaks."""

    kind: Literal[FaultKind.REPLAY] = FaultKind.REPLAY
    lines: tuple[Annotated[str, Field(max_length=MAX_REPLAY_LINE_CHARS)], ...] = Field(
        min_length=1, max_length=MAX_REPLAY_LINES, exclude=True)
    """the file's lines, as read (the ledger's fault line leaves them out)"""
    speed: float = Field(default=1.0, gt=0, le=MAX_REPLAY_SPEED, allow_inf_nan=False)
    source: Text = "replay"
    """the file's name, for messages"""

    _scope: ClassVar[str] = "a replay moves the market for every session"

    @model_validator(mode="after")
    def _lines_read(self) -> Replay:
        try:
            parse_lines(self.lines, self.source)
        except ReplayFileError as error:
            raise ValueError(str(error)) from None
        return self
