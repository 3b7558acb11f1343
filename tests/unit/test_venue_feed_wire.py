"""The feed's frames and requests (issue 16): each frame is what ``json`` would write, in a WebSocket
frame a client decodes; each request parses or names its problem."""

from __future__ import annotations

import json
import math

import pytest

from mock_exchange.md.frames import FeedQuote, FrameEncoder, NonFinitePriceError, text_frame
from mock_exchange.md.requests import MAX_REQUEST_SYMBOLS, FeedRequest, Op, RequestError, parse_request
from tests.unit.test_venue_feed_publisher import decode_frames

KNOWN = ("BTC-USD", "ETH-USD")


def only_frame(data: bytes) -> dict[str, object]:
    (frame,) = decode_frames(data)
    return frame


def test_each_frame_is_the_json_the_protocol_names() -> None:
    encoder = FrameEncoder("A")
    tail = encoder.tail("BTC-USD", FeedQuote(59_999.99, 60_000.01, 60_000.0))
    assert only_frame(encoder.update(12, 34, tail)) == {
        "type": "update", "feed": "A", "seq": 12, "sent_ns": 34, "symbol": "BTC-USD",
        "bid": 59_999.99, "ask": 60_000.01, "last": 60_000.0}
    assert only_frame(encoder.snapshot(7, 8, tail))["type"] == "snapshot"
    assert only_frame(encoder.heartbeat(5, 6)) == {"type": "heartbeat", "feed": "A", "seq": 5, "sent_ns": 6}
    assert only_frame(encoder.error('bad "op"')) == {"type": "error", "feed": "A", "error": 'bad "op"'}


def test_prices_are_written_as_json_writes_floats() -> None:
    encoder = FrameEncoder("B")
    quote = FeedQuote(1e-05, 1e16, 0.1 + 0.2)
    frame = encoder.update(1, 2, encoder.tail("X", quote))
    assert b'"bid":1e-05,"ask":1e+16,"last":0.30000000000000004}' in frame
    assert only_frame(frame)["last"] == 0.1 + 0.2


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_price_json_cannot_hold_is_never_encoded(bad: float) -> None:
    with pytest.raises(NonFinitePriceError):
        FrameEncoder("A").tail("BTC-USD", FeedQuote(1.0, bad, 1.0))


@pytest.mark.parametrize("length", [0, 125, 126, 65_535, 65_536, 70_000])
def test_frame_lengths_at_each_encoding_boundary(length: int) -> None:
    payload = json.dumps("x" * max(length - 2, 0)).encode()[:length] if length >= 2 else b"1"[:length]
    frame = text_frame(payload)
    header = {True: 2, False: 4 if len(payload) < 65_536 else 10}[len(payload) < 126]
    assert len(frame) == header + len(payload)
    assert frame[header:] == payload


def test_requests_parse_and_default_to_every_symbol() -> None:
    assert parse_request('{"op": "subscribe"}', KNOWN) == FeedRequest(Op.SUBSCRIBE, frozenset(KNOWN))
    assert parse_request('{"op": "subscribe", "symbols": []}', KNOWN).symbols == frozenset(KNOWN)
    assert parse_request('{"op": "snapshot", "symbols": ["ETH-USD"], "id": 4}', KNOWN) == FeedRequest(
        Op.SNAPSHOT, frozenset({"ETH-USD"}))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("nope", "bad JSON"),
        ("[1, 2]", "a request is a JSON object with an op, not list"),
        ('{"op": "unsubscribe"}', "unknown op 'unsubscribe'; known: subscribe, snapshot"),
        ('{"symbols": []}', "unknown op None"),
        ('{"op": "subscribe", "symbols": "BTC-USD"}', "symbols: expected a list of symbol names"),
        ('{"op": "subscribe", "symbols": [1]}', "symbols: expected a list of symbol names"),
        ('{"op": "subscribe", "symbols": ["DOGE", "BTC-USD"]}', "symbol(s) 'DOGE'; known: BTC-USD, ETH"),
        ('{"op": "subscribe", "price": NaN}', "bad JSON: NaN is not a JSON number"),
        ("[" * 100_000, "bad JSON"),
        ('{"op": "' + "x" * 500 + '"}', "... (502 chars)"),
    ],
)
def test_bad_requests_name_their_problem(text: str, problem: str) -> None:
    with pytest.raises(RequestError) as error:
        parse_request(text, KNOWN)
    assert problem in str(error.value)
    assert len(str(error.value)) < 400


def test_too_many_symbols_and_many_unknown_ones_are_cut_short() -> None:
    with pytest.raises(RequestError, match=f"at most {MAX_REQUEST_SYMBOLS}"):
        parse_request(json.dumps({"op": "snapshot", "symbols": ["ETH"] * (MAX_REQUEST_SYMBOLS + 1)}), KNOWN)
    with pytest.raises(RequestError, match=r"'S4' and 3 more; known"):
        parse_request(json.dumps({"op": "snapshot", "symbols": [f"S{n}" for n in range(8)]}), KNOWN)
