"""Market data in the ledger (issue 16): ``md`` and ``price`` lines written by the recorder, read back
by a restarted venue and checked like every other line; feed configuration."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from mock_exchange.config import FeedConfig, SessionConfig, SymbolConfig, VenueConfig
from mock_exchange.ledger import (
    MAX_MARKET_DATA_RECORDS,
    Ledger,
    LedgerCorruptError,
    LedgerError,
    LedgerRefusedError,
)
from mock_exchange.md.feed import Feed
from mock_exchange.md.recorder import MarketDataRecorder
from mock_exchange.prices import PriceProcess

MD = {"kind": "md", "t_ns": 10, "feed": "A", "symbol": "BTC-USD", "seq_first": 1, "seq_last": 9, "updates": 8,
      "dropped": 1, "bid": 1.0, "ask": 1.02, "last": 1.01}
PRICE = {"kind": "price", "t_ns": 11, "symbol": "BTC-USD", "bid": 1.0, "ask": 1.02, "mid": 1.0104}


def test_market_data_lines_are_written_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    with Ledger.open(path) as ledger:
        ledger.record_market_data(MD)
        ledger.record_fault("feed_stall", {"feed": "A"})
        ledger.record_market_data(PRICE)
        assert list(ledger.market_data) == [MD, PRICE]
    assert [json.loads(line)["kind"] for line in path.read_text().splitlines()] == ["md", "fault", "price"]
    with Ledger.open(path) as replayed:
        assert list(replayed.market_data) == [MD, PRICE]
        assert [event["fault"] for event in replayed.fault_events] == ["feed_stall"]
        assert replayed.market_data.capacity == MAX_MARKET_DATA_RECORDS
        assert replayed.market_data.total == 2  # replayed lines are numbered as they were written


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ({**MD, "seq_first": None}, "'md' event: 'seq_first' must be an integer"),
        ({key: value for key, value in MD.items() if key != "feed"}, "'md' event without 'feed'"),
        ({**PRICE, "mid": "1.0"}, "'price' event: 'mid' must be an integer or a number"),
    ],
)
def test_a_malformed_market_data_line_makes_the_file_corrupt(tmp_path: Path, line: dict[str, object],
                                                              problem: str) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text(json.dumps(PRICE) + "\n" + json.dumps(line) + "\n")
    with pytest.raises(LedgerCorruptError, match=f"ledger.jsonl:2: {problem}"):
        Ledger.open(path)


def test_a_line_json_cannot_hold_is_refused_and_nothing_is_written(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "ledger.jsonl"
    with Ledger.open(path) as ledger, caplog.at_level(logging.ERROR, logger="mock_exchange"):
        with pytest.raises(LedgerRefusedError):
            ledger.record_market_data({**PRICE, "mid": math.nan})
        with pytest.raises(LedgerError, match="not a market-data event: 'fill'"):
            ledger.record_market_data({**PRICE, "kind": "fill"})
        assert list(ledger.market_data) == []
    assert path.read_text() == ""
    assert any("refusing an event" in record.getMessage() for record in caplog.records)


def test_the_recorder_writes_what_each_feed_published_and_the_truth(tmp_path: Path) -> None:
    symbols = (SymbolConfig(symbol="BTC-USD", start_price=60_000.0, volatility_bps=0),)
    prices = {symbol.symbol: PriceProcess(symbol, 0) for symbol in symbols}
    now = [0.0]
    feeds = [Feed(FeedConfig(name=name, updates_per_s=50), prices, clock=lambda: now[0]) for name in "AB"]
    path = tmp_path / "ledger.jsonl"
    with Ledger.open(path) as ledger:
        recorder = MarketDataRecorder(ledger, prices, feeds, clock_ns=lambda: 77)
        for feed in feeds:
            feed.publish(now[0])
        now[0] += 0.1
        feeds[0].publish(now[0])
        recorder.record()
        recorder.record()  # nothing published since: the truth only
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    md, price, price_again = lines
    keys = ("kind", "feed", "symbol", "seq_first", "seq_last", "updates", "dropped")
    assert [md[key] for key in keys] == ["md", "A", "BTC-USD", 1, 5, 5, 0]
    assert (md["bid"], md["ask"], md["last"]) == (59_999.99, 60_000.01, 60_000.0)
    assert price == {"kind": "price", "t_ns": 77, "symbol": "BTC-USD", "bid": 59_999.99, "ask": 60_000.01,
                     "mid": 60_000.0}
    assert price_again == price


def venue(tmp_path: Path, *feeds: FeedConfig, **overrides: object) -> VenueConfig:
    return VenueConfig.model_validate({
        "fix_port": 0, "admin_port": 0, "sessions": (SessionConfig(sender_comp_id="X"),),
        "ledger_path": tmp_path / "l.jsonl", "feeds": feeds, **overrides})


def test_feed_configuration_is_checked(tmp_path: Path) -> None:
    assert venue(tmp_path).feeds == ()
    two = venue(tmp_path, FeedConfig(name="A"), FeedConfig(name="B2"))
    assert [feed.name for feed in two.feeds] == ["A", "B2"]
    with pytest.raises(ValidationError, match="feed names must differ, ignoring case"):
        venue(tmp_path, FeedConfig(name="a"), FeedConfig(name="A"))
    with pytest.raises(ValidationError, match="ports must differ"):
        venue(tmp_path, FeedConfig(name="A", port=5000), admin_port=5000)
    for bad in ({"name": "feed-a"}, {"name": "ABCDEFGHI"}, {"name": "A", "updates_per_s": 0},
                {"name": "A", "updates_per_s": math.inf}, {"name": "A", "heartbeat_s": 0},
                {"name": "A", "max_queue_bytes": 1024}):
        with pytest.raises(ValidationError):
            FeedConfig.model_validate(bad)
