from gameday.checkers.ghost import GhostOrders
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, instance_state, ledger_order, oms_order

CHECKER = GhostOrders()

VENUE_ORDERS = [
    ledger_order("oms-primary-1-1", "oms-primary", 1.0, status="new"),
    ledger_order("oms-primary-1-2", "oms-primary", 2.0, qty=5, cum_qty=2, status="partially_filled"),
    ledger_order("oms-primary-1-3", "oms-primary", 3.0, status="filled"),
    ledger_order("oms-primary-1-4", "oms-primary", 4.0, status="canceled"),
    ledger_order("oms-dr-1-1", "oms-dr", 20.0, symbol="ETH-USD", status="new"),
]


def _history(dr_open: list[str], *, active: str | None = "oms-dr") -> HistoryBuilder:
    dr_orders = [oms_order(order_id, "oms-dr") for order_id in dr_open]
    history = HistoryBuilder().final_state(active=active, instances={
        "oms-primary": instance_state("fenced"),
        "oms-dr": instance_state("active", open_orders=dr_orders),
    })
    return history.ledger(orders=VENUE_ORDERS)


def test_no_ghosts_when_the_active_instance_knows_every_open_venue_order() -> None:
    observation = CHECKER.check(_history(["oms-primary-1-1", "oms-primary-1-2", "oms-dr-1-1"]).ops)

    assert observation.value == 0
    assert observation.evidence["venue_open"] == 3
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


def test_an_open_order_unknown_to_the_active_instance_is_a_ghost() -> None:
    observation = CHECKER.check(_history(["oms-primary-1-1", "oms-dr-1-1"]).ops)

    assert observation.value == 1
    assert observation.evidence["ghosts"] == [
        {"cl_ord_id": "oms-primary-1-2", "instance": "oms-primary", "symbol": "BTC-USD", "leaves_qty": 3}
    ]
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_done_orders_are_never_ghosts() -> None:
    observation = CHECKER.check(_history(["oms-primary-1-1", "oms-primary-1-2", "oms-dr-1-1"]).ops)

    assert all(ghost["cl_ord_id"] not in {"oms-primary-1-3", "oms-primary-1-4"}
               for ghost in observation.evidence["ghosts"])
    assert CHECKER.check(_history([]).ops).value == 3


def test_no_active_instance_is_unknown_unless_the_probes_show_trading_had_stopped() -> None:
    stopped = _history([], active=None).trade(at=39.0, instance="oms-dr").trade(at=39.5)

    unknown = CHECKER.check(_history([], active=None).ops)
    failed = CHECKER.check(stopped.ops)

    assert unknown.value is None
    assert grade(EqualsBound(equals=0), unknown) is Verdict.UNKNOWN
    assert failed.violated
    assert grade(EqualsBound(equals=0), failed) is Verdict.FAIL
    assert "trading had stopped" in failed.note


def test_an_active_instance_that_was_not_sampled_is_unknown() -> None:
    observation = CHECKER.check(_history([], active="oms-blue").ops)

    assert observation.value is None
    assert "oms-blue" in observation.note
