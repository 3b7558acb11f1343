"""Feed fault parameters (issue 16): bounded and validated by ``parse_fault``, so scenario files take
them through ``fault: exchange`` with no harness change; a venue arms one only for a feed and
symbols it has."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gameday.errors import ScenarioError
from gameday.scenario import ExchangeFault, parse_scenario
from mock_exchange.config import FeedConfig, SessionConfig, VenueConfig
from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import (
    FEED_FAULT_TYPES,
    FaultKind,
    FaultParamsError,
    FeedBurst,
    FeedDrift,
    FeedGap,
    parse_fault,
)
from mock_exchange.ledger import Ledger
from mock_exchange.md import MarketData
from mock_exchange.prices import PriceProcess

FEED_KINDS = [model.model_fields["kind"].default for model in FEED_FAULT_TYPES]
REQUIRED: dict[FaultKind, dict[str, Any]] = {
    FaultKind.FEED_DRIFT: {"bp": 25},
    FaultKind.FEED_BURST: {"multiplier": 5},
}


@pytest.mark.parametrize("kind", FEED_KINDS)
def test_every_feed_kind_takes_a_feed_and_optional_symbols(kind: FaultKind) -> None:
    fault = parse_fault(kind, {"feed": "A", **REQUIRED.get(kind, {})})
    assert fault.model_dump(mode="json")["feed"] == "A"
    scoped = parse_fault(kind, {"feed": "*", "symbols": ["BTC-USD"], **REQUIRED.get(kind, {})})
    assert scoped.model_dump(mode="json")["symbols"] == ["BTC-USD"]
    with pytest.raises(FaultParamsError, match="feed: Field required"):
        parse_fault(kind, REQUIRED.get(kind, {}))
    with pytest.raises(FaultParamsError, match=r"session: .*leave session out"):
        parse_fault(kind, {"feed": "A", "session": "OMS-A", **REQUIRED.get(kind, {})})


@pytest.mark.parametrize(
    ("kind", "params", "problem"),
    [
        (FaultKind.FEED_STALL, {"feed": "A-1"}, "feed: String should match pattern"),
        (FaultKind.FEED_STALL, {"feed": "ABCDEFGHI"}, "feed: String should match pattern"),
        (FaultKind.FEED_STALL, {"feed": "A", "symbols": []}, "symbols: Tuple should have at least 1 item"),
        (FaultKind.FEED_STALL, {"feed": "A", "symbols": ["X" * 65]}, "symbols.0: String should have at most"),
        (FaultKind.FEED_GAP, {"feed": "A", "every_n": 0}, "every_n: Input should be greater than or equal"),
        (FaultKind.FEED_GAP, {"feed": "A", "every_n": 10**7}, "every_n: Input should be less than or equal"),
        (FaultKind.FEED_GAP, {"feed": "A", "every_n": 2.5}, "every_n: Input should be a valid integer"),
        (FaultKind.FEED_DRIFT, {"feed": "A"}, "bp: Field required"),
        (FaultKind.FEED_DRIFT, {"feed": "A", "bp": 5_001}, "bp: Input should be less than or equal to 5000"),
        (FaultKind.FEED_DRIFT, {"feed": "A", "bp": float("nan")}, "bp: Input should be a finite number"),
        (FaultKind.FEED_BURST, {"feed": "A", "multiplier": 1}, "multiplier: Input should be greater than 1"),
        (FaultKind.FEED_BURST, {"feed": "A", "multiplier": 1e9}, "multiplier: Input should be less than"),
        (FaultKind.FEED_CROSSED, {"feed": "A", "bp": 3}, "bp: Extra inputs are not permitted"),
    ],
)
def test_out_of_bounds_parameters_name_the_field(kind: FaultKind, params: dict[str, Any], problem: str,
                                                 ) -> None:
    with pytest.raises(FaultParamsError) as error:
        parse_fault(kind, params)
    assert problem in str(error.value)


def test_defaults_are_filled_in() -> None:
    assert parse_fault(FaultKind.FEED_GAP, {"feed": "B"}) == FeedGap(feed="B", every_n=10)
    assert parse_fault(FaultKind.FEED_DRIFT, {"feed": "B", "bp": -12.5}) == FeedDrift(feed="B", bp=-12.5)
    burst = parse_fault(FaultKind.FEED_BURST, {"feed": "B", "multiplier": 100})
    assert burst == FeedBurst(feed="B", multiplier=100)


SCENARIO = """
name: feed-faults-validate
description: every feed fault in a scenario, checked by the venue's own models at load time
seed: 1
stack: {{preset: active-passive}}
workload: {{orders_per_second: 10, symbols: [BTC-USD], duration: 10s}}
timeline:
{timeline}
expect: {{orders.ghost: 0}}
"""
TIMELINE = """\
  - {at: 1s, fault: exchange, kind: feed_stall, params: {feed: A}, for: 2s}
  - {at: 1s, fault: exchange, kind: feed_gap, params: {feed: B, every_n: 5}, for: 2s}
  - {at: 2s, fault: exchange, kind: feed_stale, params: {feed: A, symbols: [BTC-USD]}, for: 2s}
  - {at: 2s, fault: exchange, kind: feed_drift, params: {feed: B, bp: 40}, for: 2s}
  - {at: 3s, fault: exchange, kind: feed_crossed, params: {feed: A}, for: 1s}
  - {at: 3s, fault: exchange, kind: feed_duplicate, params: {feed: B}, for: 1s}
  - {at: 4s, fault: exchange, kind: feed_reorder, params: {feed: A}, for: 1s}
  - {at: 4s, fault: exchange, kind: feed_burst, params: {feed: "*", multiplier: 10}, for: 1s}
"""


def test_a_scenario_takes_every_feed_fault_with_no_harness_change() -> None:
    scenario = parse_scenario(SCENARIO.format(timeline=TIMELINE))
    kinds = [step.kind for step in scenario.timeline if isinstance(step, ExchangeFault)]
    assert kinds == FEED_KINDS


def test_a_scenario_with_a_bad_feed_fault_is_refused_at_load_time() -> None:
    bad = "  - {at: 1s, fault: exchange, kind: feed_drift, params: {feed: A, bp: 90000}}\n"
    with pytest.raises(ScenarioError, match=r"the venue would refuse feed_drift: bp: Input should be less"):
        parse_scenario(SCENARIO.format(timeline=bad))


def market_data(tmp_path: Path, *feeds: str) -> tuple[FaultBoard, Ledger]:
    config = VenueConfig(fix_port=0, admin_port=0, sessions=(SessionConfig(sender_comp_id="X"),),
                         ledger_path=tmp_path / "ledger.jsonl",
                         feeds=tuple(FeedConfig(name=name) for name in feeds))
    prices = {symbol.symbol: PriceProcess(symbol, 0) for symbol in config.symbols}
    board = FaultBoard()
    ledger = Ledger.open(config.ledger_path)
    MarketData(config, prices, board, ledger)
    return board, ledger


def test_a_venue_arms_feed_faults_only_for_its_feeds_and_symbols(tmp_path: Path) -> None:
    board, ledger = market_data(tmp_path, "A", "B")
    with ledger:
        with pytest.raises(FaultParamsError, match="feed: unknown feed 'C'; known: A, B"):
            board.arm(parse_fault(FaultKind.FEED_STALL, {"feed": "C"}))
        with pytest.raises(FaultParamsError, match=r"unknown symbol\(s\) 'DOGE'; known: BTC-USD, ETH"):
            board.arm(parse_fault(FaultKind.FEED_STALL, {"feed": "A", "symbols": ["BTC-USD", "DOGE"]}))
        assert board.active() == []
        board.arm(parse_fault(FaultKind.FEED_STALL, {"feed": "*", "symbols": ["ETH-USD"]}))
        assert [fault.kind for fault in board.active()] == [FaultKind.FEED_STALL]


def test_a_venue_without_feeds_refuses_every_feed_fault(tmp_path: Path) -> None:
    board, ledger = market_data(tmp_path)
    with ledger, pytest.raises(FaultParamsError, match="this venue publishes no market data"):
        board.arm(parse_fault(FaultKind.FEED_STALL, {"feed": "*"}))
