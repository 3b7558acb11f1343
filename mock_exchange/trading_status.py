"""Which symbols may trade, and why not: the venue's trading status per symbol.

A symbol is halted while at least one cause holds it: an unscoped ``halt`` fault, a
limit-up/limit-down pause (:mod:`mock_exchange.price_bands`), a replayed halt or a replayed
session break (:mod:`mock_exchange.replay`). Each cause is set and lifted on its own; the symbol
trades again once the last is lifted. A price band (lower and upper limit) may be in force on a
symbol whatever its halts.

Every change is one :class:`StatusChange` to the listeners: the venue writes it to the ledger
(``status`` lines, so grading sees each halt, resumption and band) and announces it to every
logged-on FIX session as a SecurityStatus (35=f, :mod:`mock_exchange.fix.security_status`).
A listener that fails is logged; the status changes anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)

HALTED_TEXT = "Trading halted"


class HaltCause(StrEnum):
    FAULT = "fault"
    LIMIT_UP = "limit_up"
    LIMIT_DOWN = "limit_down"
    REPLAY = "replay"
    SESSION = "session"


@dataclass(frozen=True, slots=True)
class Band:
    """The prices a symbol may trade at: buy limits above ``upper`` and sell limits below
    ``lower`` are refused; a quote reaching either edge pauses trading."""

    reference: float
    lower: float
    upper: float


@dataclass(frozen=True, slots=True)
class StatusChange:
    symbol: str
    halted: bool
    causes: tuple[HaltCause, ...]
    """the causes holding the symbol after the change (empty: it trades)"""
    cause: HaltCause | None
    """the cause set or lifted (``None``: only the band changed)"""
    text: str
    band: Band | None

    def as_ledger_fields(self) -> dict[str, object]:
        fields: dict[str, object] = {
            "symbol": self.symbol, "state": "halted" if self.halted else "trading",
            "causes": [cause.value for cause in self.causes],
            "cause": self.cause.value if self.cause is not None else None, "text": self.text,
        }
        if self.band is not None:
            fields["band"] = {"reference": self.band.reference, "lower": self.band.lower,
                              "upper": self.band.upper}
        return fields


StatusListener = Callable[[StatusChange], None]


def halt_text(symbol: str, detail: str | None) -> str:
    """``Trading halted: SYM`` (and why): the text refused orders go back with."""
    return f"{HALTED_TEXT}: {symbol}" + (f" ({detail})" if detail else "")


class TradingStatus:
    """Halt causes and bands per symbol; listeners hear every change."""

    def __init__(self) -> None:
        self._causes: dict[str, dict[HaltCause, str]] = {}
        self._bands: dict[str, Band] = {}
        self._listeners: list[StatusListener] = []

    def subscribe(self, listener: StatusListener) -> None:
        self._listeners.append(listener)

    # -- changes ---------------------------------------------------------------------------

    def halt(self, symbol: str, cause: HaltCause, detail: str | None = None) -> None:
        """Hold ``symbol`` for ``cause`` (a no-op when that cause already holds it)."""
        causes = self._causes.setdefault(symbol, {})
        if cause in causes:
            return
        causes[cause] = halt_text(symbol, detail)
        self._notify(symbol, cause, causes[cause])

    def resume(self, symbol: str, cause: HaltCause) -> None:
        """Lift ``cause`` from ``symbol`` (a no-op when it does not hold it)."""
        causes = self._causes.get(symbol, {})
        if causes.pop(cause, None) is None:
            return
        text = f"{cause.value} lifted" + ("" if causes else f": {symbol} trading")
        self._notify(symbol, cause, text)

    def resume_all(self, cause: HaltCause) -> None:
        for symbol in [symbol for symbol, causes in self._causes.items() if cause in causes]:
            self.resume(symbol, cause)

    def set_band(self, symbol: str, band: Band | None) -> None:
        """Put ``band`` in force on ``symbol`` (``None``: no band)."""
        if band is None and self._bands.pop(symbol, None) is None:
            return
        if band is not None:
            self._bands[symbol] = band
        self._notify(symbol, None, "price band" if band is not None else "price band lifted")

    # -- questions -------------------------------------------------------------------------

    def refusal(self, symbol: str) -> str | None:
        """The text a new order on ``symbol`` is refused with while it is halted, else ``None``."""
        causes = self._causes.get(symbol)
        return next(iter(causes.values())) if causes else None

    def band(self, symbol: str) -> Band | None:
        return self._bands.get(symbol)

    def symbols(self) -> list[str]:
        """Every symbol with a halt or a band (what a new session is told on logon)."""
        return sorted({*(s for s, causes in self._causes.items() if causes), *self._bands})

    def current(self, symbol: str) -> StatusChange:
        """The symbol's state now, as a change (for a session that just logged on)."""
        causes = self._causes.get(symbol, {})
        text = next(iter(causes.values())) if causes else f"{symbol} trading"
        return StatusChange(symbol, bool(causes), tuple(causes), None, text, self._bands.get(symbol))

    @property
    def active(self) -> bool:
        """Whether any symbol is halted or banded (the hot paths skip every question when not)."""
        return bool(self._bands) or any(self._causes.values())

    def _notify(self, symbol: str, cause: HaltCause | None, text: str) -> None:
        causes = tuple(self._causes.get(symbol, {}))
        change = StatusChange(symbol, bool(causes), causes, cause, text, self._bands.get(symbol))
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:
                log.exception("a trading-status listener failed on %s", symbol)
