"""1.4.3-cost: seed 000's 1.4.3 at the seed's scale (a position slightly different, tens of bp)."""

from __future__ import annotations

import pytest
from hypothesis import given

from tests.unit.test_deploy_positions import fill, one_venue_orders
from trading_stack.deploy.positions import VenueFill
from trading_stack.deploy.verifier import Discrepancy, EventOutput, VerifierConfig, compare_outputs
from trading_stack.deploy.versions import REBATE_BPS, OmsVersion, PositionKeeper, build_for
from trading_stack.models import Side

BPS = 10_000


def _keepers() -> tuple[PositionKeeper, PositionKeeper]:
    return PositionKeeper(build_for(OmsVersion.V1_4_2)), PositionKeeper(build_for(OmsVersion.V1_4_3_COST))


def _cost_bps(old: PositionKeeper, new: PositionKeeper, symbol: str = "BTC-USD") -> float:
    blue, green = old.position(symbol).avg_price, new.position(symbol).avg_price
    return abs(green - blue) / blue * BPS


def test_a_piece_at_another_market_than_the_orders_first_costs_the_rebate_read_as_percent() -> None:
    old, new = _keepers()
    for report in (fill("e1", "XNAS", 2, 2, 100.0, qty=4), fill("e2", "ARCX", 2, 4, 100.0, qty=4)):
        old.apply(report)
        new.apply(report)

    assert old.net_lots() == new.net_lots() == {"BTC-USD": 4}
    assert old.position("BTC-USD").avg_price == 100.0
    assert new.position("BTC-USD").avg_price == pytest.approx(100.0 * (1 - REBATE_BPS / 100 / 2))
    assert _cost_bps(old, new) == pytest.approx(45.0)  # the seed's 44 bp, in tens of bp


def test_the_first_market_of_each_order_is_its_own() -> None:
    old, new = _keepers()
    for report in (fill("e1", "ARCX", 2, 2, 100.0, order="a", qty=2),
                   fill("e2", "XNAS", 2, 2, 100.0, order="b", qty=2)):
        old.apply(report)
        new.apply(report)

    assert new.positions == old.positions


@given(one_venue_orders())
def test_orders_that_trade_at_one_market_book_exactly_as_1_4_2(reports: list[VenueFill]) -> None:
    old, new = _keepers()
    for report in reports:
        old.apply(report)
        new.apply(report)

    assert new.positions == old.positions


def test_a_seed_scale_drift_is_a_warning_under_1_bp_and_nothing_under_100_bp() -> None:
    """The verifier's 1 bp tolerance catches the drift; a 100 bp bound would pass it as clean."""
    old, new = _keepers()
    reports = [fill(f"{n}-{venue}", venue, 2, cum, 100.0 + n, order=f"o{n}", qty=4)
               for n in range(5) for venue, cum in (("XNAS", 2), ("ARCX", 4))]
    tight, loose = VerifierConfig(), VerifierConfig(tolerance_bps=100.0)
    found_tight: list[Discrepancy] = []
    found_loose: list[Discrepancy] = []
    for report in reports:
        old.apply(report)
        new.apply(report)
        blue, green = (_output(keeper, report) for keeper in (old, new))
        found_tight += compare_outputs(blue, green, tight)
        found_loose += compare_outputs(blue, green, loose)

    assert {d.field.value for d in found_tight} == {"avg_price"}
    assert all(d.relative_bps is not None and 1 < d.relative_bps < 100 for d in found_tight)
    assert found_loose == []


def _output(keeper: PositionKeeper, report: VenueFill) -> EventOutput:
    position = keeper.position(report.symbol)
    return EventOutput(event_id=report.exec_id, processed_ns=0, symbol=report.symbol, position=position.qty,
                       avg_price=position.avg_price, realized_pnl=position.realized_pnl,
                       order_id=report.order_id, cum_qty=report.cum_qty)


def test_sells_are_booked_at_the_same_lots_and_direction() -> None:
    old, new = _keepers()
    for report in (fill("e1", "XNAS", 2, 2, 100.0, side=Side.SELL, qty=4),
                   fill("e2", "ARCX", 2, 4, 100.0, side=Side.SELL, qty=4)):
        old.apply(report)
        new.apply(report)

    assert old.net_lots() == new.net_lots() == {"BTC-USD": -4}
