"""What the OMS knows of the venue's trading status: halted symbols and price bands.

A halt (or a limit-up/limit-down pause) is the venue's state, not a failure of the venue or of
this instance: nothing fails over, and no order is sent into it. The venue announces each
change as a SecurityStatus (35=f: 326=2 halted, 17 ready to trade; 332/333 the band's edges);
a reject whose text says the symbol is halted teaches the same when no status came first (that
halt is held for :data:`REJECT_HOLD_S`, then one order may find out whether it was lifted).
While a symbol is halted, or a limit order is priced beyond its band on the side that could
trade through it, the order is refused here with the venue's words (HTTP 502, as the venue's
own reject is answered) and never sent. A new logon forgets everything: the venue tells a
session what is halted right after its Logon.

The defect ``retries-into-halt`` ignores all of it and takes a halt or band reject for a
passing failure: the order is sent again, :data:`RETRIES` times, :data:`RETRY_DELAY_S` apart.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import simplefix

from trading_stack import fix_codec
from trading_stack.clock import MonotonicNs
from trading_stack.defects import Defect
from trading_stack.gateway import PlaceResult
from trading_stack.http_api import ApiResult
from trading_stack.models import NewOrderRequest, OrdType, Side

log = logging.getLogger(__name__)

REJECT_HOLD_S = 1.0
RETRIES = 3
RETRY_DELAY_S = 0.25
HALTED, READY_TO_TRADE = 2, 17
_HALTED_TEXT = re.compile(r"\bhalted\b", re.IGNORECASE)
_BAND_TEXT = re.compile(r"limit-up/limit-down band", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Halt:
    text: str
    until_ns: int | None
    """``None``: until the venue says the symbol trades again"""


class VenueHalts:
    """Halted symbols and bands as the venue announced them (or its rejects told)."""

    def __init__(self, defects: frozenset[Defect], clock: MonotonicNs) -> None:
        self._clock = clock
        self._heeds = Defect.RETRIES_INTO_HALT not in defects
        self._halts: dict[str, _Halt] = {}
        self._bands: dict[str, tuple[float, float]] = {}

    # -- learning --------------------------------------------------------------------------

    def on_security_status(self, msg: simplefix.FixMessage) -> None:
        symbol = fix_codec.text(msg, 55)
        if symbol is None or not self._heeds:
            return
        status = fix_codec.integer(msg, 326)
        text = fix_codec.text(msg, 58) or f"Trading halted: {symbol}"
        if status == HALTED:
            self._halts[symbol] = _Halt(text, None)
            log.info("venue halted %s: %s", symbol, text)
        elif status == READY_TO_TRADE and self._halts.pop(symbol, None) is not None:
            log.info("venue resumed %s", symbol)
        low, high = fix_codec.number(msg, 333), fix_codec.number(msg, 332)
        if low is not None and high is not None:
            self._bands[symbol] = (low, high)
        else:
            self._bands.pop(symbol, None)

    def on_reject(self, symbol: str, text: str | None) -> None:
        """A venue reject: one saying the symbol is halted holds it a while (no status said so)."""
        if self._heeds and text and _HALTED_TEXT.search(text) and symbol not in self._halts:
            self._halts[symbol] = _Halt(text, self._clock() + int(REJECT_HOLD_S * 1e9))

    def forget(self) -> None:
        """A new session: the venue announces what is halted right after the Logon."""
        self._halts.clear()
        self._bands.clear()

    # -- using -----------------------------------------------------------------------------

    def refusal(self, request: NewOrderRequest) -> ApiResult | None:
        """The answer to an order the venue's state would refuse (never sent), else ``None``."""
        halt = self._halts.get(request.symbol)
        if halt is not None and halt.until_ns is not None and self._clock() >= halt.until_ns:
            del self._halts[request.symbol]
            halt = None
        if halt is not None:
            return ApiResult(502, {"error": "symbol halted at the venue", "text": halt.text, "sent": False})
        band = self._bands.get(request.symbol)
        if band is None or request.type is not OrdType.LIMIT or request.price is None:
            return None
        low, high = band
        beyond = (request.side is Side.BUY and request.price > high) or (
            request.side is Side.SELL and request.price < low)
        if not beyond:
            return None
        text = f"Price outside the limit-up/limit-down band: {request.symbol} [{low:g}, {high:g}]"
        return ApiResult(502, {"error": "outside the venue's price band", "text": text, "sent": False})

    async def place(self, request: NewOrderRequest, send: Callable[[], Awaitable[PlaceResult]],
                    ) -> PlaceResult:
        """``send`` the order; learn from a reject (or, with the defect, send it again into it)."""
        result = await send()
        if self._heeds:
            if result.status == 502:
                self.on_reject(request.symbol, result.text)
            return result
        for _ in range(RETRIES):
            if result.status != 502 or not _venue_state(result.text):
                break
            await asyncio.sleep(RETRY_DELAY_S)
            result = await send()
        return result


def _venue_state(text: str | None) -> bool:
    return bool(text) and bool(_HALTED_TEXT.search(text or "") or _BAND_TEXT.search(text or ""))
