"""Halts, limit-up/limit-down bands and a replayed day at the venue (mock_exchange.market_status)."""

from __future__ import annotations

import json

import pytest

from mock_exchange.config import SymbolConfig
from mock_exchange.faults import FaultKind, FaultParamsError, Halt, parse_fault
from mock_exchange.fix.security_status import security_status_fields
from mock_exchange.market_status import MarketStatus
from mock_exchange.model import OrdType, Side
from mock_exchange.price_bands import BAND_TEXT
from mock_exchange.prices import PriceProcess
from mock_exchange.trading_status import HaltCause, StatusChange


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


Market = tuple[MarketStatus, dict[str, PriceProcess], list[StatusChange]]


def _market(clock: FakeClock, *symbols: str) -> Market:
    prices = {symbol: PriceProcess(SymbolConfig(symbol=symbol, start_price=100.0, volatility_bps=0), seed=1,
                                   clock=clock) for symbol in symbols or ("BTC-USD",)}
    market = MarketStatus(prices, clock=clock)
    changes: list[StatusChange] = []
    market.status.subscribe(changes.append)
    return market, prices, changes


def _arm(market: MarketStatus, kind: FaultKind, params: dict[str, object]) -> None:
    fault = parse_fault(kind, params)
    assert market.problem(fault) is None
    market.on_fault_change(kind, fault)


def _step(market: MarketStatus, prices: dict[str, PriceProcess], clock: FakeClock, seconds: float) -> None:
    clock.now += seconds
    for process in prices.values():
        process.step()
    market.step()


def test_a_band_refuses_buys_above_and_sells_below_it_and_nothing_else() -> None:
    clock = FakeClock()
    market, _, changes = _market(clock)
    _arm(market, FaultKind.PRICE_BANDS, {"band_pct": 5, "pause_s": 2})
    band = changes[-1].band
    assert band is not None
    assert (band.lower, band.upper) == (95.0, 105.0)
    refusal = market.order_refusal
    assert refusal("BTC-USD", Side.BUY, OrdType.LIMIT, 105.01) == f"{BAND_TEXT}: BTC-USD buy above 105"
    assert refusal("BTC-USD", Side.SELL, OrdType.LIMIT, 94.99) == f"{BAND_TEXT}: BTC-USD sell below 95"
    assert refusal("BTC-USD", Side.BUY, OrdType.LIMIT, 50.0) is None  # the trade probe's far buy
    assert refusal("BTC-USD", Side.SELL, OrdType.LIMIT, 200.0) is None
    assert refusal("BTC-USD", Side.BUY, OrdType.MARKET, None) is None


def test_a_quote_at_the_upper_band_pauses_the_symbol_then_resets_the_band_around_the_new_price() -> None:
    clock = FakeClock()
    market, prices, changes = _market(clock)
    _arm(market, FaultKind.PRICE_BANDS, {"band_pct": 5, "pause_s": 2})
    prices["BTC-USD"].follow(move_pct=8, over_s=4)
    _step(market, prices, clock, 1.0)
    assert market.may_fill("BTC-USD")
    _step(market, prices, clock, 2.0)  # mid 106: the ask is above the upper band
    assert not market.may_fill("BTC-USD")
    refusal = market.order_refusal("BTC-USD", Side.BUY, OrdType.LIMIT, 50.0)
    assert refusal == "Trading halted: BTC-USD (limit up)"
    assert changes[-1].halted
    assert changes[-1].cause is HaltCause.LIMIT_UP
    _step(market, prices, clock, 1.0)
    assert not market.may_fill("BTC-USD")  # paused for 2 s, whatever the price does
    _step(market, prices, clock, 1.5)
    assert market.may_fill("BTC-USD")
    band = changes[-1].band
    assert band is not None
    assert band.reference == pytest.approx(108.0)
    assert not changes[-1].halted


def test_an_unscoped_halt_fault_is_mirrored_and_a_scoped_one_left_to_the_fault_board() -> None:
    clock = FakeClock()
    market, _, changes = _market(clock, "BTC-USD", "ETH-USD")
    market.on_fault_change(FaultKind.HALT, Halt(symbols=("ETH-USD",)))
    assert [(c.symbol, c.halted) for c in changes] == [("ETH-USD", True)]
    assert market.order_refusal("ETH-USD", Side.BUY, OrdType.MARKET, None) == "Trading halted: ETH-USD"
    market.on_fault_change(FaultKind.HALT, None)
    assert [(c.symbol, c.halted) for c in changes] == [("ETH-USD", True), ("ETH-USD", False)]
    market.on_fault_change(FaultKind.HALT, Halt(symbols=("ETH-USD",), session="OMS-DR"))
    assert len(changes) == 2
    assert market.may_fill("ETH-USD")


def _replay_lines(*events: dict[str, object]) -> list[str]:
    return ["# a hand-made day", *(json.dumps(event) for event in events)]


def test_a_replay_moves_prices_as_returns_halts_and_breaks_for_settlement_on_its_compressed_clock() -> None:
    clock = FakeClock()
    market, prices, changes = _market(clock, "BTC-USD", "ETH-USD")
    lines = _replay_lines(
        {"t": "2026-03-13T23:59:00Z", "type": "tick", "symbol": "BTC-USD", "px": 40000},
        {"t": "2026-03-13T23:59:10Z", "type": "tick", "symbol": "BTC-USD", "px": 44000},
        {"t": "2026-03-13T23:59:20Z", "type": "halt", "symbol": "BTC-USD", "reason": "news pending"},
        {"t": "2026-03-13T23:59:40Z", "type": "resume", "symbol": "BTC-USD"},
        {"t": "2026-03-13T23:59:50Z", "type": "session", "state": "close", "date": "2026-03-13"},
        {"t": "2026-03-14T00:00:10Z", "type": "session", "state": "open", "date": "2026-03-14"},
    )
    _arm(market, FaultKind.REPLAY, {"lines": lines, "speed": 10, "source": "day.jsonl"})
    _step(market, prices, clock, 0.0)  # the first tick: a line to +10 % over 1 s
    _step(market, prices, clock, 1.0)
    assert prices["BTC-USD"].mid == pytest.approx(110.0)
    _step(market, prices, clock, 1.0)
    assert market.order_refusal("BTC-USD", Side.BUY, OrdType.MARKET, None) == (
        "Trading halted: BTC-USD (replayed halt: news pending)")
    _step(market, prices, clock, 2.0)
    assert market.may_fill("BTC-USD")
    _step(market, prices, clock, 1.0)
    assert not market.may_fill("ETH-USD")
    assert not market.may_fill("BTC-USD")
    assert "settlement break: session 2026-03-13 closed" in changes[-1].text
    _step(market, prices, clock, 2.0)
    assert market.may_fill("ETH-USD")
    assert market.may_fill("BTC-USD")
    assert [c.cause for c in changes if c.symbol == "BTC-USD"] == [
        HaltCause.REPLAY, HaltCause.REPLAY, HaltCause.SESSION, HaltCause.SESSION]


def test_a_replayed_fills_line_splits_trades_until_another_says_otherwise_or_the_replay_ends() -> None:
    clock = FakeClock()
    market, prices, _ = _market(clock)
    tick = {"t": "2026-03-13T10:00:00Z", "type": "tick", "symbol": "BTC-USD", "px": 1}
    lines = _replay_lines(tick, {"t": tick["t"], "type": "fills", "markets": ["XNAS", "ARCX"], "max_lots": 2},
                          {"t": "2026-03-13T10:00:10Z", "type": "fills"})
    _arm(market, FaultKind.REPLAY, {"lines": lines})
    _step(market, prices, clock, 0.1)
    assert market.fill_split is not None
    assert (market.fill_split.markets, market.fill_split.max_lots) == (("XNAS", "ARCX"), 2)
    _step(market, prices, clock, 10.0)
    assert market.fill_split is None
    _arm(market, FaultKind.REPLAY, {"lines": lines[:3]})
    _step(market, prices, clock, 0.1)
    assert market.fill_split is not None
    market.on_fault_change(FaultKind.REPLAY, None)
    assert market.fill_split is None


def test_a_replay_healed_mid_halt_lifts_it() -> None:
    clock = FakeClock()
    market, prices, _ = _market(clock)
    lines = _replay_lines({"t": "2026-03-13T10:00:00Z", "type": "tick", "symbol": "BTC-USD", "px": 1},
                          {"t": "2026-03-13T10:00:00Z", "type": "halt", "symbol": "BTC-USD"})
    _arm(market, FaultKind.REPLAY, {"lines": lines})
    _step(market, prices, clock, 0.1)
    assert not market.may_fill("BTC-USD")
    market.on_fault_change(FaultKind.REPLAY, None)
    assert market.may_fill("BTC-USD")
    assert not market.active


@pytest.mark.parametrize(("line", "problem"), [
    ('{"t": "2026-03-13T10:00:00Z", "type": "tick", "symbol": "BTC-USD", "px": -1}', "day.jsonl:3: px:"),
    ('{"t": "2026-03-13T10:00:00", "type": "tick", "symbol": "BTC-USD", "px": 1}', "day.jsonl:3: t:"),
    ('{"t": "2026-03-13T09:00:00Z", "type": "resume", "symbol": "BTC-USD"}', "day.jsonl:3: t 2026-03-13T09"),
    ('[1, 2]', "day.jsonl:3: expected a JSON object, got list"),
    ('{"t": "2026-03-13T10:00:00Z", "type": "tick", "symbol": "BTC-USD", "px": NaN}',
     "day.jsonl:3: not a JSON"),
    ('{"t": "2026-03-13T10:00:00Z", "type": "dividend"}', "day.jsonl:3: "),
])
def test_a_bad_replay_line_is_refused_naming_the_file_and_line(line: str, problem: str) -> None:
    lines = ["", '{"t": "2026-03-13T10:00:00Z", "type": "tick", "symbol": "BTC-USD", "px": 1}', line]
    with pytest.raises(FaultParamsError, match=r"day\.jsonl:3: ") as error:
        parse_fault(FaultKind.REPLAY, {"lines": lines, "source": "day.jsonl"})
    assert problem in str(error.value)


def test_a_replay_of_a_symbol_the_venue_does_not_list_cannot_be_armed() -> None:
    market, _, _ = _market(FakeClock())
    fault = parse_fault(FaultKind.REPLAY, {"lines": _replay_lines(
        {"t": "2026-03-13T10:00:00Z", "type": "tick", "symbol": "SOL-USD", "px": 1})})
    assert market.problem(fault) == "unknown symbol(s) SOL-USD; the venue lists BTC-USD"


def test_security_status_says_halted_with_the_reason_and_the_band_edges() -> None:
    clock = FakeClock()
    market, prices, changes = _market(clock)
    _arm(market, FaultKind.PRICE_BANDS, {"band_pct": 5, "pause_s": 2})
    prices["BTC-USD"].follow(move_pct=-8, over_s=0)
    _step(market, prices, clock, 0.1)
    fields = dict(security_status_fields(changes[-1]))
    assert (fields[326], fields[327], fields[332], fields[333]) == (b"2", b"I", b"105.0", b"95.0")
    assert fields[58] == b"Trading halted: BTC-USD (limit down)"
