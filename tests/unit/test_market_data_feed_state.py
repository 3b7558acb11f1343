"""One feed's state (trading_stack.market_data.feed_state): sequence, gaps and their recovery, crossed
books, clocks. Pure: frames and a fake clock in, state out."""

from __future__ import annotations

from trading_stack.market_data.feed_state import FeedState
from trading_stack.market_data.messages import BadFrame, FeedError, Heartbeat, QuoteFrame, parse_frame

MS = 1_000_000
SYMBOLS = ("BTC-USD", "ETH-USD")


def update(seq: int, symbol: str = "BTC-USD", bid: float = 99.99, ask: float = 100.01) -> QuoteFrame:
    return QuoteFrame(False, seq, None, symbol, bid, ask, None)


def snap(seq: int, symbol: str = "BTC-USD", bid: float = 99.99, ask: float = 100.01) -> QuoteFrame:
    return QuoteFrame(True, seq, None, symbol, bid, ask, None)


def subscribed(at: int = 0, seq: int = 10) -> FeedState:
    state = FeedState("A", SYMBOLS, snapshot_retry_ns=250 * MS)
    state.on_connected()
    state.on_frame(snap(seq, "BTC-USD"), at)
    state.on_frame(snap(seq, "ETH-USD", 9.99, 10.01), at)
    return state


def test_frames_parse_into_value_objects_and_bad_ones_say_why() -> None:
    text = ('{"type": "update", "feed": "A", "seq": 7, "sent_ns": 5, "symbol": "BTC-USD", '
            '"bid": 1.0, "ask": 2}')
    assert parse_frame(text) == QuoteFrame(False, 7, 5, "BTC-USD", 1.0, 2.0, None)
    assert parse_frame('{"type": "heartbeat", "feed": "A", "seq": 3}') == Heartbeat(3, None)
    assert parse_frame('{"type": "error", "feed": "A", "error": "bad op"}') == FeedError("bad op")
    for bad in ("nope", "[1]", '{"type": "update", "seq": 1, "symbol": "X", "bid": "1", "ask": 2}',
                '{"type": "update", "seq": true, "symbol": "X", "bid": 1, "ask": 2}',
                '{"type": "update", "seq": 1, "symbol": "X", "bid": -1, "ask": 2}',
                '{"type": "quote", "seq": 1}'):
        assert isinstance(parse_frame(bad), BadFrame), bad


def test_updates_in_sequence_are_applied_and_duplicates_or_late_ones_ignored() -> None:
    state = subscribed()
    state.on_frame(update(11, bid=100.0, ask=100.02), 5 * MS)
    state.on_frame(update(11, bid=1.0, ask=2.0), 6 * MS)  # a duplicate
    state.on_frame(update(9, bid=1.0, ask=2.0), 7 * MS)  # out of order, older than what we have

    assert state.quotes["BTC-USD"].bid == 100.0
    assert (state.last_seq, state.counters.duplicates, state.gap) == (11, 2, None)


def test_a_gap_asks_every_symbol_again_and_is_recovered_by_their_snapshots() -> None:
    state = subscribed()
    state.on_frame(update(14, "ETH-USD", 10.0, 10.02), 10 * MS)  # 11..13 lost

    assert state.gap is not None
    assert state.counters.gaps == 1
    assert state.quotes["ETH-USD"].bid == 10.0  # the update itself is news: applied
    assert state.snapshot_request(10 * MS) == ()  # every symbol
    assert state.snapshot_request(20 * MS) is None  # asked already, not yet due again
    state.on_frame(snap(13, "BTC-USD"), 25 * MS)  # older than the gap: does not recover it
    state.on_frame(snap(15, "BTC-USD"), 30 * MS)
    assert state.gap is not None
    assert state.gap.pending == {"ETH-USD"}
    state.on_frame(snap(15, "ETH-USD", 10.0, 10.02), 31 * MS)
    assert state.gap is None
    assert state.counters.recoveries == 1


def test_an_unanswered_snapshot_request_is_sent_again_and_a_new_gap_moves_the_bar() -> None:
    state = subscribed()
    state.on_frame(update(12), 0)
    assert state.snapshot_request(0) is not None
    state.on_frame(update(20), 100 * MS)  # another gap before the answer
    assert state.gap is not None
    assert (state.gap.gap_seq, state.gap.since_ns) == (20, 0)
    state.on_frame(snap(15, "BTC-USD"), 110 * MS)
    state.on_frame(snap(15, "ETH-USD"), 110 * MS)
    assert state.gap is not None  # the answer predates the second gap
    assert state.snapshot_request(200 * MS) is None
    assert state.snapshot_request(260 * MS) == ()


def test_a_heartbeat_confirms_every_quote_or_reveals_a_gap() -> None:
    state = subscribed(at=0, seq=10)
    state.on_frame(Heartbeat(10, None), 900 * MS)
    assert state.quote_age_ns("BTC-USD", 1000 * MS) == 100 * MS  # current as of the heartbeat
    assert state.age_ns(1000 * MS) == 100 * MS

    state.on_frame(Heartbeat(12, None), 1100 * MS)  # two updates we never got
    assert state.gap is not None
    assert state.last_seq == 12
    state.on_frame(Heartbeat(12, None), 1200 * MS)  # no confirmation while a gap is open
    assert state.quote_age_ns("BTC-USD", 1200 * MS) == 300 * MS


def test_a_crossed_quote_is_rejected_and_flags_the_symbol_until_a_good_one() -> None:
    state = subscribed()
    state.on_frame(update(11, bid=100.05, ask=100.0), 10 * MS)
    assert state.quotes["BTC-USD"].bid == 99.99
    assert state.crossed == {"BTC-USD": 10 * MS}
    assert state.last_seq == 11
    assert state.counters.crossed == 1
    state.on_frame(update(12, bid=100.0, ask=100.02), 20 * MS)
    assert state.crossed == {}
    assert state.gap is None


def test_the_last_price_change_is_kept_apart_from_the_last_message() -> None:
    state = subscribed(at=0)
    for seq in range(11, 20):  # the same prices again and again (a frozen feed)
        state.on_frame(update(seq), seq * 100 * MS)
    assert state.price_age_ns(2000 * MS) == 2000 * MS
    assert state.age_ns(2000 * MS) == 100 * MS
    state.on_frame(update(20, bid=100.0), 2000 * MS)
    assert state.price_age_ns(2000 * MS) == 0


def test_a_reconnect_drops_the_old_connections_quotes_until_snapshots_come() -> None:
    state = subscribed()
    state.on_disconnected()
    state.on_connected()
    assert state.quotes == {}
    assert state.last_seq is None
    assert state.counters.connections == 2
    assert state.stalest_quote(0) == ("BTC-USD", None)
    assert state.last_known["BTC-USD"].bid == 99.99  # kept, for the defect that prices off it
    state.on_frame(snap(40, "BTC-USD"), 5 * MS)
    state.on_frame(update(41, "ETH-USD"), 6 * MS)  # no gap: the first update after a new connection
    assert state.gap is None
    assert state.stalest_quote(10 * MS) == ("BTC-USD", 5 * MS)
