"""Position keeping and the two OMS builds (seed 000: 1.4.2 vs 1.4.3)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from trading_stack.deploy.positions import Position, VenueFill, apply_fill
from trading_stack.deploy.versions import BUILDS, OmsVersion, PositionKeeper, build_for
from trading_stack.models import Side


def fill(exec_id: str, venue: str, last: int, cum: int, px: float = 100.0, *, order: str = "o1",
         side: Side = Side.BUY, qty: int = 10, symbol: str = "BTC-USD") -> VenueFill:
    return VenueFill(exec_id=exec_id, order_id=order, venue=venue, symbol=symbol, side=side, last_qty=last,
                     last_px=px, cum_qty=cum, order_qty=qty, t_ns=0)


# -- apply_fill ------------------------------------------------------------------------
def test_adding_to_a_position_moves_the_average_cost() -> None:
    position = apply_fill(apply_fill(Position("X"), 2, 100.0), 2, 110.0)

    assert position == Position("X", 4, 105.0, 0.0)


def test_reducing_a_long_realises_pnl_against_the_average_cost() -> None:
    position = apply_fill(Position("X", 4, 105.0), -1, 115.0)

    assert position == Position("X", 3, 105.0, 10.0)


def test_closing_a_short_at_a_higher_price_loses() -> None:
    position = apply_fill(Position("X", -2, 50.0), 2, 55.0)

    assert position == Position("X", 0, 0.0, -10.0)


def test_crossing_zero_realises_the_closed_part_and_opens_the_rest_at_the_fill_price() -> None:
    position = apply_fill(Position("X", 2, 100.0), -5, 90.0)

    assert position == Position("X", -3, 90.0, -20.0)


def test_a_zero_quantity_changes_nothing() -> None:
    position = Position("X", 2, 100.0, 1.0)

    assert apply_fill(position, 0, 1.0) is position


@pytest.mark.parametrize("price", [0.0, -1.0, math.nan, math.inf])
def test_a_price_that_is_not_positive_and_finite_is_refused(price: float) -> None:
    with pytest.raises(ValueError, match="positive finite price"):
        apply_fill(Position("X"), 1, price)


fills = st.lists(
    st.tuples(st.integers(-50, 50).filter(bool), st.integers(1, 100_000).map(lambda cents: cents / 100)),
    max_size=40,
)


@given(fills, st.integers(1, 100_000).map(lambda cents: cents / 100))
def test_average_cost_pnl_equals_cash_accounting(trades: list[tuple[int, float]], mark: float) -> None:
    position = Position("X")
    for qty, price in trades:
        position = apply_fill(position, qty, price)

    assert position.qty == sum(qty for qty, _ in trades)
    cash = sum(qty * (mark - price) for qty, price in trades)
    assert position.total_pnl(mark) == pytest.approx(cash, rel=1e-9, abs=1e-6)


# -- VenueFill -------------------------------------------------------------------------
def test_a_fill_whose_quantities_disagree_is_refused() -> None:
    with pytest.raises(ValidationError, match="last_qty <= cum_qty <= order_qty"):
        fill("e1", "A", last=5, cum=3)


def test_a_fill_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        VenueFill.model_validate({**fill("e1", "A", 1, 1).model_dump(), "venu": "B"})


# -- the two builds --------------------------------------------------------------------
def keepers() -> tuple[PositionKeeper, PositionKeeper]:
    return PositionKeeper(build_for(OmsVersion.V1_4_2)), PositionKeeper(build_for(OmsVersion.V1_4_3))


def test_the_builds_agree_on_an_order_partially_filled_at_one_venue() -> None:
    old, new = keepers()
    reports = [fill("e1", "A", 3, 3, 100.0), fill("e2", "A", 4, 7, 101.0), fill("e3", "A", 3, 10, 102.0)]

    for report in reports:
        old.apply(report)
        new.apply(report)

    assert old.positions == new.positions
    assert old.net_lots() == {"BTC-USD": 10}


def test_the_builds_split_on_an_order_partially_filled_across_venues() -> None:
    old, new = keepers()
    reports = [fill("e1", "A", 3, 3, 100.0), fill("e2", "B", 2, 5, 101.0)]

    booked = [(old.apply(r), new.apply(r)) for r in reports]

    assert [(a.lots, b.lots) for a, b in booked if a and b] == [(3, 3), (2, 5)]
    assert old.net_lots() == {"BTC-USD": 5}
    assert new.net_lots() == {"BTC-USD": 8}
    assert old.position("BTC-USD").avg_price == pytest.approx(100.4)


def test_a_repeated_exec_id_is_booked_once_by_both_builds() -> None:
    for keeper in keepers():
        first = keeper.apply(fill("e1", "A", 3, 3))
        again = keeper.apply(fill("e1", "A", 3, 3))

        assert first is not None
        assert again is None
        assert keeper.net_lots() == {"BTC-USD": 3}


def test_a_flat_symbol_with_realised_pnl_is_still_reported_but_not_in_net_lots() -> None:
    keeper = PositionKeeper(build_for(OmsVersion.V1_4_2))
    keeper.apply(fill("e1", "A", 2, 2, 100.0, order="b"))
    keeper.apply(fill("e2", "A", 2, 2, 103.0, order="s", side=Side.SELL))

    assert keeper.net_lots() == {}
    assert keeper.positions["BTC-USD"].realized_pnl == pytest.approx(6.0)


@st.composite
def one_venue_orders(draw: st.DrawFn) -> list[VenueFill]:
    """Orders each partially filled at a single venue, reports in the venue's order."""
    reports: list[VenueFill] = []
    for n in range(draw(st.integers(1, 6))):
        qty = draw(st.integers(1, 20))
        side = draw(st.sampled_from(Side))
        venue = draw(st.sampled_from(["A", "B"]))
        cum = 0
        while cum < qty:
            last = draw(st.integers(1, qty - cum))
            cum += last
            price = draw(st.integers(1, 10_000)) / 100
            reports.append(fill(f"{n}-{cum}", venue, last, cum, price, order=f"o{n}", side=side, qty=qty))
            if draw(st.booleans()):
                break
    return reports


@given(one_venue_orders())
def test_the_builds_are_identical_when_no_order_trades_at_two_venues(reports: list[VenueFill]) -> None:
    old, new = keepers()
    for report in reports:
        old.apply(report)
        new.apply(report)

    assert old.positions == new.positions


@given(one_venue_orders())
def test_build_142_books_exactly_the_traded_lots_whatever_the_venue(reports: list[VenueFill]) -> None:
    keeper = PositionKeeper(BUILDS[OmsVersion.V1_4_2])
    moved = [r.model_copy(update={"venue": "B" if i % 2 else "A"}) for i, r in enumerate(reports)]
    for report in moved:
        keeper.apply(report)

    expected: dict[str, int] = {}
    for r in moved:
        expected[r.symbol] = expected.get(r.symbol, 0) + r.side.sign * r.last_qty
    assert keeper.net_lots() == {s: q for s, q in expected.items() if q}
