"""The entries after a halt (a breaker trip, a kill switch) that the breaker and kill-switch checkers
share: which orders count as entries after an instant, and which of them were already on the wire."""

from __future__ import annotations

from gameday.checkers.breaker import IN_FLIGHT_NS, entries_after, split_in_flight
from gameday.checkers.ledger_timeline import LedgerTimeline, ledger_timeline
from tests.unit.deploy_history import BLUE, fill, ledger, order, run_start
from tests.unit.history_builder import HistoryBuilder, ns

GREEN = "oms-green"
HALT_S = 5.0


def _timeline() -> LedgerTimeline:
    """Long 3 at 1 s; then a reducing sell at 5.02 s, entries at 4.9, 5.0, 5.03 (green) and 6.0."""
    orders = [order("o1", BLUE, 1.0, qty=3), order("before", BLUE, 4.9), order("at-halt", BLUE, HALT_S),
              order("reduce", BLUE, 5.02, side="sell"), order("wire", GREEN, 5.03),
              order("late", BLUE, 6.0)]
    fills = [fill("e1", BLUE, 1.01, qty=3)]
    timeline = ledger_timeline(ledger(run_start(HistoryBuilder()), orders, fills).ops)
    assert timeline is not None
    return timeline


def test_entries_after_an_instant_are_the_position_increasing_orders_received_strictly_later() -> None:
    entries = entries_after(_timeline(), ns(HALT_S))
    assert [entry.order.cl_ord_id for entry in entries] == ["wire", "late"]
    assert [entry.order.instance for entry in entries] == [GREEN, BLUE]


def test_entries_are_split_at_the_in_flight_allowance_after_the_halt() -> None:
    entries = entries_after(_timeline(), ns(HALT_S))
    assert ns(5.03) - ns(HALT_S) <= IN_FLIGHT_NS < ns(6.0) - ns(HALT_S)
    in_flight, late = split_in_flight(entries, ns(HALT_S))
    assert [entry.order.cl_ord_id for entry in in_flight] == ["wire"]
    assert [entry.order.cl_ord_id for entry in late] == ["late"]


def test_an_entry_received_past_the_allowance_is_late_and_no_entries_split_into_nothing() -> None:
    entries = entries_after(_timeline(), ns(HALT_S))
    assert split_in_flight(entries, ns(5.03) - IN_FLIGHT_NS - 1) == ([], entries)
    assert split_in_flight([], ns(HALT_S)) == ([], [])
