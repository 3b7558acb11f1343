"""The feed wire protocol's frames (venue -> OMS), parsed into value objects; pure, no I/O.

``{"type": "snapshot"|"update", "feed", "seq", "sent_ns", "symbol", "bid", "ask", "last"}``,
``{"type": "heartbeat", "feed", "seq", "sent_ns"}`` and ``{"type": "error", "feed", "error"}``.
A frame that is not one of these parses to :class:`BadFrame` with the reason: the handler counts
and logs it, it never ends the connection.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["BadFrame", "FeedError", "Frame", "Heartbeat", "QuoteFrame", "parse_frame", "snapshot",
           "subscribe"]


@dataclass(frozen=True, slots=True)
class QuoteFrame:
    """A snapshot (the state of a symbol as of update ``seq``) or one update (number ``seq``)."""

    snapshot: bool
    seq: int
    sent_ns: int | None
    symbol: str
    bid: float
    ask: float
    last: float | None

    @property
    def crossed(self) -> bool:
        return self.bid > self.ask

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Sent on a connection that got nothing else for a while; ``seq`` = the feed's last update."""

    seq: int
    sent_ns: int | None


@dataclass(frozen=True, slots=True)
class FeedError:
    error: str


@dataclass(frozen=True, slots=True)
class BadFrame:
    reason: str


Frame = QuoteFrame | Heartbeat | FeedError | BadFrame


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _price(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    price = float(value)
    return price if math.isfinite(price) and price > 0 else None


def parse_frame(text: str | bytes) -> Frame:
    try:
        body = json.loads(text)
    except ValueError as err:
        return BadFrame(f"not JSON: {err}")
    if not isinstance(body, dict):
        return BadFrame("not a JSON object")
    kind = body.get("type")
    if kind == "error":
        return FeedError(str(body.get("error"))[:500])
    seq = _int(body.get("seq"))
    if seq is None or seq < 0:
        return BadFrame(f"{kind!r} frame without a sequence number")
    sent_ns = _int(body.get("sent_ns"))
    if kind == "heartbeat":
        return Heartbeat(seq, sent_ns)
    if kind not in ("snapshot", "update"):
        return BadFrame(f"unknown frame type {kind!r}")
    symbol = body.get("symbol")
    bid, ask = _price(body.get("bid")), _price(body.get("ask"))
    if not isinstance(symbol, str) or not symbol or bid is None or ask is None:
        return BadFrame(f"{kind} without a symbol and a positive finite bid and ask")
    return QuoteFrame(kind == "snapshot", seq, sent_ns, symbol, bid, ask, _price(body.get("last")))


def subscribe(symbols: tuple[str, ...]) -> str:
    return json.dumps({"op": "subscribe", "symbols": list(symbols)})


def snapshot(symbols: tuple[str, ...]) -> str:
    return json.dumps({"op": "snapshot", "symbols": list(symbols)})
