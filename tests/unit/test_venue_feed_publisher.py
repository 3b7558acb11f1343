"""The feed publisher without sockets (issue 16): seqs, rates, heartbeats, snapshots, each feed fault,
slow consumers, and the windows the ledger recorder takes. A hand-driven clock; frames decoded
from the bytes the feed writes."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from mock_exchange.config import FeedConfig, SymbolConfig
from mock_exchange.faults import FaultKind, parse_fault
from mock_exchange.md.feed import MAX_UPDATES_PER_ROUND, Feed
from mock_exchange.md.requests import FeedRequest, Op
from mock_exchange.md.subscriber import REQUEST_BURST, Subscriber
from mock_exchange.prices import PriceProcess

SYMBOLS = ("BTC-USD", "ETH-USD")
Frame = dict[str, Any]


def decode_frames(data: bytes) -> Iterator[Frame]:
    """Unmasked text frames, as a client reads them."""
    offset = 0
    while offset < len(data):
        first, second = data[offset], data[offset + 1]
        assert first == 0x81, "a final text frame"
        assert not second & 0x80, "a server does not mask"
        length, offset = second, offset + 2
        if length == 126:
            (length,) = struct.unpack_from("!H", data, offset)
            offset += 2
        elif length == 127:
            (length,) = struct.unpack_from("!Q", data, offset)
            offset += 8
        yield json.loads(data[offset : offset + length])
        offset += length


class FakeWire:
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False
        self.backlog = 0  # bytes the socket "has not taken"

    def write(self, data: bytes) -> None:
        self.data += data

    def buffered(self) -> int:
        return self.backlog

    def frames(self) -> list[Frame]:
        frames = list(decode_frames(bytes(self.data)))
        self.data.clear()
        return frames


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.ns = 5_000_000_000

    def __call__(self) -> float:
        return self.now

    def nanos(self) -> int:
        self.ns += 1
        return self.ns


def prices(volatility_bps: float = 0.0) -> dict[str, PriceProcess]:
    return {
        symbol: PriceProcess(SymbolConfig(symbol=symbol, start_price=price, volatility_bps=volatility_bps), 7)
        for symbol, price in zip(SYMBOLS, (60_000.0, 3_000.0), strict=True)
    }


def make_feed(clock: Clock, *, rate: float = 100.0, heartbeat_s: float = 1.0, volatility_bps: float = 0.0,
              ) -> Feed:
    config = FeedConfig(name="A", updates_per_s=rate, heartbeat_s=heartbeat_s)
    feed = Feed(config, prices(volatility_bps), clock=clock, clock_ns=clock.nanos)
    feed.publish(clock.now)  # the first round only starts the clock
    return feed


def subscribe(feed: Feed, clock: Clock, symbols: tuple[str, ...] = SYMBOLS,
              overflowed: list[Subscriber] | None = None) -> tuple[Subscriber, FakeWire]:
    wire = FakeWire()
    subscriber = Subscriber(wire, max_queue_bytes=64 * 1024, now=clock.now,
                            on_overflow=(overflowed if overflowed is not None else []).append)
    feed.add(subscriber)
    feed.on_request(subscriber, FeedRequest(Op.SUBSCRIBE, frozenset(symbols)), clock.now)
    return subscriber, wire


def run(feed: Feed, clock: Clock, seconds: float, step_s: float = 0.01) -> None:
    for _ in range(round(seconds / step_s)):
        clock.now += step_s
        feed.publish(clock.now)


def arm(feed: Feed, kind: FaultKind, **params: Any) -> None:
    feed.on_fault_change(kind, parse_fault(kind, {"feed": "A", **params}))


def heal(feed: Feed, kind: FaultKind) -> None:
    feed.on_fault_change(kind, None)


def updates(frames: list[Frame]) -> list[Frame]:
    return [frame for frame in frames if frame["type"] == "update"]


def test_subscribe_answers_snapshots_then_updates_numbered_one_by_one() -> None:
    clock = Clock()
    feed = make_feed(clock)
    _, wire = subscribe(feed, clock)
    snapshots = wire.frames()
    assert [(frame["type"], frame["symbol"], frame["seq"]) for frame in snapshots] == [
        ("snapshot", "BTC-USD", 0), ("snapshot", "ETH-USD", 0)]
    run(feed, clock, 1.0)
    published = updates(wire.frames())
    assert [frame["seq"] for frame in published] == list(range(1, len(published) + 1))
    assert len(published) == pytest.approx(200, abs=4), "100 a second for each of 2 symbols"
    assert {frame["symbol"] for frame in published} == set(SYMBOLS)
    btc = next(frame for frame in published if frame["symbol"] == "BTC-USD")
    assert (btc["feed"], btc["bid"], btc["ask"], btc["last"]) == ("A", 59_999.99, 60_000.01, 60_000.0)


def test_a_client_subscribed_to_one_symbol_gets_its_updates_only() -> None:
    clock = Clock()
    feed = make_feed(clock)
    _, wire = subscribe(feed, clock, ("ETH-USD",))
    run(feed, clock, 0.5)
    frames = wire.frames()
    assert {frame["symbol"] for frame in frames} == {"ETH-USD"}
    assert len(updates(frames)) == pytest.approx(50, abs=2)


def test_heartbeats_only_on_a_connection_that_got_nothing_else() -> None:
    clock = Clock()
    feed = make_feed(clock, heartbeat_s=0.1)
    idle = Subscriber(FakeWire(), max_queue_bytes=65_536, on_overflow=lambda _: None, now=clock.now)
    feed.add(idle)
    _, busy = subscribe(feed, clock)
    run(feed, clock, 1.0)
    assert all(frame["type"] != "heartbeat" for frame in busy.frames())
    assert isinstance(idle.wire, FakeWire)
    beats = idle.wire.frames()
    assert len(beats) == pytest.approx(10, abs=1)
    assert {frame["type"] for frame in beats} == {"heartbeat"}
    assert beats[-1]["seq"] == feed.seq, "a heartbeat carries the last update's seq"


def test_stall_sends_nothing_and_answers_snapshots_asked_for_when_it_heals() -> None:
    clock = Clock()
    feed = make_feed(clock, heartbeat_s=0.1)
    subscriber, wire = subscribe(feed, clock)
    run(feed, clock, 0.2)
    wire.frames()
    arm(feed, FaultKind.FEED_STALL)
    seq = feed.seq
    feed.on_request(subscriber, FeedRequest(Op.SNAPSHOT, frozenset({"BTC-USD"})), clock.now)
    feed.send_error(subscriber, "bad request", clock.now)
    run(feed, clock, 1.0)
    assert wire.frames() == [], "no updates, heartbeats, snapshots or errors"
    assert feed.seq == seq
    heal(feed, FaultKind.FEED_STALL)
    assert [(frame["type"], frame["symbol"]) for frame in wire.frames()] == [("snapshot", "BTC-USD")]
    run(feed, clock, 0.1)
    assert next(frame["seq"] for frame in updates(wire.frames())) == seq + 1


def test_a_stall_of_some_symbols_leaves_the_others_and_the_heartbeats() -> None:
    clock = Clock()
    feed = make_feed(clock)
    _, wire = subscribe(feed, clock)
    wire.frames()
    arm(feed, FaultKind.FEED_STALL, symbols=["BTC-USD"])
    run(feed, clock, 0.5)
    assert {frame["symbol"] for frame in updates(wire.frames())} == {"ETH-USD"}


def test_gap_spends_every_nth_seq_without_sending_it() -> None:
    clock = Clock()
    feed = make_feed(clock)
    _, wire = subscribe(feed, clock)
    wire.frames()
    feed.take_windows()
    first = feed.seq + 1
    arm(feed, FaultKind.FEED_GAP, every_n=4)
    run(feed, clock, 0.5)
    seqs = [frame["seq"] for frame in updates(wire.frames())]
    missing = sorted(set(range(first, feed.seq + 1)) - set(seqs))
    assert missing
    assert all((seq - first + 1) % 4 == 0 for seq in missing), missing
    windows = feed.take_windows()
    assert sum(window.dropped for window in windows) == len(missing)
    heal(feed, FaultKind.FEED_GAP)
    run(feed, clock, 0.2)
    seqs = [frame["seq"] for frame in updates(wire.frames())]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_stale_freezes_prices_while_seqs_advance_and_the_truth_moves() -> None:
    clock = Clock()
    feed = make_feed(clock, volatility_bps=5.0)
    _, wire = subscribe(feed, clock)
    arm(feed, FaultKind.FEED_STALE)
    frozen = feed.current("BTC-USD")
    btc = feed._prices["BTC-USD"]
    for _ in range(20):
        btc.step()
        run(feed, clock, 0.02)
    published = [frame for frame in updates(wire.frames()) if frame["symbol"] == "BTC-USD"]
    assert len(published) >= 20
    assert {(frame["bid"], frame["ask"]) for frame in published} == {(frozen.bid, frozen.ask)}
    assert btc.quote.bid != frozen.bid, "the venue's price moved on"
    heal(feed, FaultKind.FEED_STALE)
    run(feed, clock, 0.05)
    assert updates(wire.frames())[-1]["bid"] in (btc.quote.bid, feed.current("ETH-USD").bid)


def test_drift_moves_prices_by_bp_on_the_tick_and_keeps_the_spread() -> None:
    clock = Clock()
    feed = make_feed(clock)
    _, wire = subscribe(feed, clock)
    wire.frames()
    arm(feed, FaultKind.FEED_DRIFT, bp=-25.0, symbols=["BTC-USD"])
    run(feed, clock, 0.1)
    frames = updates(wire.frames())
    btc = next(frame for frame in frames if frame["symbol"] == "BTC-USD")
    eth = next(frame for frame in frames if frame["symbol"] == "ETH-USD")
    assert (btc["bid"], btc["ask"], btc["last"]) == (59_849.99, 59_850.01, 59_850.0)
    assert (eth["bid"], eth["ask"]) == (2_999.99, 3_000.01), "another symbol is not in its scope"


def test_crossed_puts_the_bid_above_the_ask() -> None:
    clock = Clock()
    feed = make_feed(clock)
    _, wire = subscribe(feed, clock)
    arm(feed, FaultKind.FEED_CROSSED)
    run(feed, clock, 0.1)
    assert all(frame["bid"] > frame["ask"] for frame in updates(wire.frames()))
    heal(feed, FaultKind.FEED_CROSSED)
    run(feed, clock, 0.1)
    assert all(frame["bid"] < frame["ask"] for frame in updates(wire.frames()))


def test_duplicate_sends_each_update_twice() -> None:
    clock = Clock()
    feed = make_feed(clock)
    _, wire = subscribe(feed, clock)
    wire.frames()
    arm(feed, FaultKind.FEED_DUPLICATE)
    run(feed, clock, 0.1)
    seqs = [frame["seq"] for frame in updates(wire.frames())]
    assert seqs[::2] == seqs[1::2]
    assert seqs[::2] == list(range(seqs[0], seqs[0] + len(seqs) // 2))


def test_reorder_swaps_adjacent_updates_and_its_heal_sends_the_one_it_holds() -> None:
    clock = Clock()
    feed = make_feed(clock)
    _, wire = subscribe(feed, clock)
    wire.frames()
    arm(feed, FaultKind.FEED_REORDER)
    run(feed, clock, 0.1)
    seqs = [frame["seq"] for frame in updates(wire.frames())]
    first = min(seqs) - 1
    assert seqs[:6] == [first + 2, first + 1, first + 4, first + 3, first + 6, first + 5]
    heal(feed, FaultKind.FEED_REORDER)
    run(feed, clock, 0.1)
    after = [frame["seq"] for frame in updates(wire.frames())]
    assert sorted(seqs + after) == list(range(first + 1, feed.seq + 1)), "nothing lost"
    assert after[1:] == sorted(after[1:])


def test_burst_multiplies_the_rate_within_the_round_limit() -> None:
    clock = Clock()
    feed = make_feed(clock)
    arm(feed, FaultKind.FEED_BURST, multiplier=10)
    before = feed.seq
    run(feed, clock, 1.0)
    assert feed.seq - before == pytest.approx(2_000, abs=20)
    arm(feed, FaultKind.FEED_BURST, multiplier=100)
    feed.config = feed.config.model_copy(update={"updates_per_s": 100_000})
    before = feed.seq
    clock.now += 0.05
    feed.publish(clock.now)
    assert feed.seq - before <= MAX_UPDATES_PER_ROUND


def test_a_fault_of_another_feed_changes_nothing() -> None:
    clock = Clock()
    feed = make_feed(clock)
    _, wire = subscribe(feed, clock)
    feed.on_fault_change(FaultKind.FEED_CROSSED, parse_fault(FaultKind.FEED_CROSSED, {"feed": "B"}))
    run(feed, clock, 0.1)
    assert all(frame["bid"] < frame["ask"] for frame in updates(wire.frames()))
    feed.on_fault_change(FaultKind.FEED_CROSSED, parse_fault(FaultKind.FEED_CROSSED, {"feed": "*"}))
    run(feed, clock, 0.1)
    assert all(frame["bid"] > frame["ask"] for frame in updates(wire.frames()))


def test_a_subscriber_whose_queue_would_overflow_is_dropped() -> None:
    clock = Clock()
    feed = make_feed(clock)
    overflowed: list[Subscriber] = []
    subscriber, wire = subscribe(feed, clock, overflowed=overflowed)
    wire.backlog = 64 * 1024 - 10
    run(feed, clock, 0.1)
    assert overflowed == [subscriber]
    assert subscriber.gone
    written = len(wire.data)
    run(feed, clock, 0.1)
    assert len(wire.data) == written, "nothing more is written to a dropped subscriber"


def test_a_request_flood_runs_out_of_tokens_and_they_come_back() -> None:
    clock = Clock()
    subscriber, _ = subscribe(make_feed(clock), clock)
    admitted = [subscriber.admit_request(clock.now) for _ in range(int(REQUEST_BURST) + 5)]
    assert admitted.count(True) == REQUEST_BURST
    assert not admitted[-1]
    clock.now += 1.0
    assert subscriber.admit_request(clock.now)


def test_nothing_is_serialized_without_subscribers_but_seqs_and_windows_advance() -> None:
    clock = Clock()
    feed = make_feed(clock)
    run(feed, clock, 0.5)
    windows = {window.symbol: window for window in feed.take_windows()}
    assert set(windows) == set(SYMBOLS)
    assert windows["BTC-USD"].updates + windows["ETH-USD"].updates == feed.seq
    assert windows["BTC-USD"].quote.bid == 59_999.99
    assert feed.take_windows() == [], "a window is taken once"


def test_snapshot_carries_the_feeds_seq_and_what_it_last_said() -> None:
    clock = Clock()
    feed = make_feed(clock)
    subscriber, wire = subscribe(feed, clock)
    arm(feed, FaultKind.FEED_DRIFT, bp=100.0)
    run(feed, clock, 0.1)
    wire.frames()
    feed.on_request(subscriber, FeedRequest(Op.SNAPSHOT, frozenset({"BTC-USD"})), clock.now)
    (snapshot,) = wire.frames()
    assert (snapshot["type"], snapshot["seq"], snapshot["bid"]) == ("snapshot", feed.seq, 60_599.99)
