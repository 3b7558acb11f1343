"""The OMS's view of venue halts and bands (trading_stack.venue_halts): refuse, never send into one."""

from __future__ import annotations

import asyncio

import simplefix

from trading_stack.defects import Defect
from trading_stack.gateway import PlaceResult
from trading_stack.models import NewOrderRequest, OrdType, Side
from trading_stack.venue_halts import REJECT_HOLD_S, RETRIES, VenueHalts


class FakeClock:
    def __init__(self) -> None:
        self.now_ns = 1_000_000_000

    def __call__(self) -> int:
        return self.now_ns


def _status(symbol: str, status: int, text: str = "", band: tuple[float, float] | None = None,
            ) -> simplefix.FixMessage:
    msg = simplefix.FixMessage()
    msg.append_pair(35, "f")
    msg.append_pair(55, symbol)
    msg.append_pair(326, status)
    if band is not None:
        msg.append_pair(332, band[1])
        msg.append_pair(333, band[0])
    if text:
        msg.append_pair(58, text)
    return msg


def _order(symbol: str = "BTC-USD", side: Side = Side.BUY, price: float | None = None) -> NewOrderRequest:
    kind = OrdType.LIMIT if price is not None else OrdType.MARKET
    return NewOrderRequest(symbol=symbol, side=side, qty=1, type=kind, price=price)


def _halts(*defects: Defect) -> tuple[VenueHalts, FakeClock]:
    clock = FakeClock()
    return VenueHalts(frozenset(defects), clock), clock


def test_a_halt_announced_refuses_that_symbol_with_the_venues_words_until_it_trades_again() -> None:
    halts, _ = _halts()
    halts.on_security_status(_status("BTC-USD", 2, "Trading halted: BTC-USD (limit up)"))
    refused = halts.refusal(_order())
    assert refused is not None
    assert refused.status == 502
    assert refused.body == {"error": "symbol halted at the venue",
                            "text": "Trading halted: BTC-USD (limit up)",
                            "sent": False}
    assert halts.refusal(_order("ETH-USD")) is None
    halts.on_security_status(_status("BTC-USD", 17))
    assert halts.refusal(_order()) is None


def test_a_band_refuses_only_the_side_that_would_trade_through_it() -> None:
    halts, _ = _halts()
    halts.on_security_status(_status("BTC-USD", 17, band=(95.0, 105.0)))
    assert halts.refusal(_order(price=105.5)) is not None
    assert halts.refusal(_order(side=Side.SELL, price=94.5)) is not None
    assert halts.refusal(_order(price=50.0)) is None
    assert halts.refusal(_order(side=Side.SELL, price=200.0)) is None
    assert halts.refusal(_order()) is None  # a market order trades within the band or the venue pauses


def test_a_halt_learnt_from_a_reject_is_held_a_while_then_one_order_may_find_out() -> None:
    halts, clock = _halts()

    async def rejected() -> PlaceResult:
        return PlaceResult(502, error="venue rejected the order", text="Trading halted: BTC-USD")

    assert asyncio.run(halts.place(_order(), rejected)).status == 502
    assert halts.refusal(_order()) is not None
    clock.now_ns += int(REJECT_HOLD_S * 1e9)
    assert halts.refusal(_order()) is None


def test_a_new_session_forgets_what_the_last_one_was_told() -> None:
    halts, _ = _halts()
    halts.on_security_status(_status("BTC-USD", 2, band=(95.0, 105.0)))
    halts.forget()
    assert halts.refusal(_order()) is None
    assert halts.refusal(_order(price=200.0)) is None


def test_the_defect_ignores_halts_and_sends_a_halt_reject_again() -> None:
    halts, _ = _halts(Defect.RETRIES_INTO_HALT)
    halts.on_security_status(_status("BTC-USD", 2, "Trading halted: BTC-USD"))
    assert halts.refusal(_order()) is None
    sent: list[int] = []

    async def rejected() -> PlaceResult:
        sent.append(1)
        return PlaceResult(502, error="venue rejected the order", text="Trading halted: BTC-USD")

    assert asyncio.run(halts.place(_order(), rejected)).status == 502
    assert len(sent) == 1 + RETRIES


def test_the_correct_stack_sends_a_rejected_order_once() -> None:
    halts, _ = _halts()
    sent: list[int] = []

    async def rejected() -> PlaceResult:
        sent.append(1)
        text = "Price outside the limit-up/limit-down band"
        return PlaceResult(502, error="venue rejected the order", text=text)

    asyncio.run(halts.place(_order(price=200.0), rejected))
    assert len(sent) == 1
