"""The feed's frames on the wire: JSON text, each in one unmasked WebSocket frame built once.

A server's frames are not masked (RFC 6455 §5.1), so the bytes of one frame are the same for every
subscriber: an update is serialized once and the same bytes are written to each connection. An
update's JSON is one template filled with its ``seq`` and ``sent_ns`` around a tail (symbol and
prices) built once per symbol per publishing round; the others are rare and go through ``json``.

Frames (contracts §10): ``snapshot`` / ``update`` ``{"type", "feed", "seq", "sent_ns", "symbol",
"bid", "ask", "last"}``, ``heartbeat`` ``{"type", "feed", "seq", "sent_ns"}``, ``error`` ``{"type",
"feed", "error"}``.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass

_TEXT = 0x81  # FIN + opcode 1 (text)
_LEN2 = struct.Struct("!BBH")
_LEN8 = struct.Struct("!BBQ")


class NonFinitePriceError(ValueError):
    """A quote holding NaN or an infinity: JSON has no such number (never published)."""


@dataclass(frozen=True, slots=True)
class FeedQuote:
    """What a feed says about one symbol."""

    bid: float
    ask: float
    last: float

    @property
    def finite(self) -> bool:
        return math.isfinite(self.bid) and math.isfinite(self.ask) and math.isfinite(self.last)


def text_frame(payload: bytes) -> bytes:
    """``payload`` (UTF-8 JSON) as one final, unmasked text frame."""
    length = len(payload)
    if length < 126:
        return bytes((_TEXT, length)) + payload
    if length < 65536:
        return _LEN2.pack(_TEXT, 126, length) + payload
    return _LEN8.pack(_TEXT, 127, length) + payload


class FrameEncoder:
    """The frames of one feed."""

    def __init__(self, feed: str) -> None:
        self.feed = feed
        feed_json = json.dumps(feed)
        self._update = b'{"type":"update","feed":' + feed_json.encode() + b',"seq":'
        self._snapshot = b'{"type":"snapshot","feed":' + feed_json.encode() + b',"seq":'
        self._heartbeat = b'{"type":"heartbeat","feed":' + feed_json.encode() + b',"seq":'
        self._symbols: dict[str, bytes] = {}

    def tail(self, symbol: str, quote: FeedQuote) -> bytes:
        """The end of an update or snapshot of ``symbol``: ``,"symbol":..,"bid":..,"ask":..,"last":..}``."""
        if not quote.finite:
            raise NonFinitePriceError(f"{symbol}: {quote}")
        symbol_json = self._symbols.get(symbol)
        if symbol_json is None:
            symbol_json = self._symbols[symbol] = json.dumps(symbol).encode()
        return b',"symbol":%b,"bid":%b,"ask":%b,"last":%b}' % (
            symbol_json,
            repr(float(quote.bid)).encode(),
            repr(float(quote.ask)).encode(),
            repr(float(quote.last)).encode(),
        )

    def update(self, seq: int, sent_ns: int, tail: bytes) -> bytes:
        return text_frame(b'%b%d,"sent_ns":%d%b' % (self._update, seq, sent_ns, tail))

    def snapshot(self, seq: int, sent_ns: int, tail: bytes) -> bytes:
        return text_frame(b'%b%d,"sent_ns":%d%b' % (self._snapshot, seq, sent_ns, tail))

    def heartbeat(self, seq: int, sent_ns: int) -> bytes:
        return text_frame(b'%b%d,"sent_ns":%d}' % (self._heartbeat, seq, sent_ns))

    def error(self, reason: str) -> bytes:
        return text_frame(json.dumps({"type": "error", "feed": self.feed, "error": reason}).encode())
