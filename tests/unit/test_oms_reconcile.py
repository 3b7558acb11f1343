"""Promotion reconciliation: ghosts, orphans and venue positions."""

from __future__ import annotations

from trading_stack.models import ExecType, ExecutionReport, Order, OrderStatus, Side
from trading_stack.reconcile import plan_reconciliation


def status(
    cl: str, st: OrderStatus, owner: str | None, *, side: Side = Side.BUY, cum: int = 0, sym: str = "BTC-USD"
) -> ExecutionReport:
    return ExecutionReport(
        exec_type=ExecType.ORDER_STATUS,
        ord_status=st,
        cl_ord_id=cl,
        orig_cl_ord_id=None,
        order_id=f"X{cl}",
        exec_id=None,
        symbol=sym,
        side=side,
        qty=10,
        price=1.0,
        cum_qty=cum,
        leaves_qty=10 - cum,
        last_qty=0,
        last_px=None,
        text=None,
        owner_sub_id=owner,
        mass_status_req_id="r",
        tot_num_reports=1,
    )


def known(cl: str, instance: str) -> Order:
    return Order(
        order_id=cl, symbol="BTC-USD", side=Side.BUY, qty=10, status=OrderStatus.NEW, instance=instance
    )


NONE_REPORT = ExecutionReport(
    exec_type=ExecType.ORDER_STATUS,
    ord_status=None,
    cl_ord_id="",
    orig_cl_ord_id=None,
    order_id="NONE",
    exec_id=None,
    symbol="",
    side=None,
    qty=0,
    price=None,
    cum_qty=0,
    leaves_qty=0,
    last_qty=0,
    last_px=None,
    text=None,
    owner_sub_id=None,
    mass_status_req_id="r",
    tot_num_reports=0,
    last_rpt_requested=True,
)


def test_no_orders_gives_empty_plan() -> None:
    plan = plan_reconciliation([NONE_REPORT], {}, "dr")
    assert plan.positions == {}
    assert plan.to_cancel == []


def test_unknown_open_order_is_a_ghost_and_known_foreign_one_an_orphan() -> None:
    reports = [
        status("p-1-1", OrderStatus.NEW, "primary"),  # ghost: mirror never saw it
        status("p-1-2", OrderStatus.PARTIALLY_FILLED, "primary", cum=4),  # orphan: known, other session
        status("dr-1-1", OrderStatus.NEW, "dr"),  # ours and known: kept
        status("p-1-3", OrderStatus.FILLED, "primary", side=Side.SELL, cum=10),  # done: ignored
    ]
    plan = plan_reconciliation(
        reports, {"p-1-2": known("p-1-2", "primary"), "dr-1-1": known("dr-1-1", "dr")}, "dr"
    )
    assert [r.cl_ord_id for r in plan.ghosts] == ["p-1-1"]
    assert [r.cl_ord_id for r in plan.orphans] == ["p-1-2"]
    assert [r.cl_ord_id for r in plan.kept] == ["dr-1-1"]
    assert plan.positions == {"BTC-USD": 4 - 10}


def test_adopting_keeps_known_orders_of_another_session_and_still_cancels_ghosts() -> None:
    reports = [
        status("p-1-1", OrderStatus.NEW, "primary"),  # ghost: known to nobody
        status("p-1-2", OrderStatus.NEW, "primary"),  # known from the database: adopted
        status("dr-1-1", OrderStatus.NEW, "dr"),
    ]
    plan = plan_reconciliation(
        reports, {"p-1-2": known("p-1-2", "primary"), "dr-1-1": known("dr-1-1", "dr")}, "dr",
        adopt_known=True,
    )
    assert [r.cl_ord_id for r in plan.ghosts] == ["p-1-1"]
    assert plan.orphans == []
    assert [r.cl_ord_id for r in plan.kept] == ["p-1-2", "dr-1-1"]
    assert [r.cl_ord_id for r in plan.to_cancel] == ["p-1-1"]


def test_owner_falls_back_to_clordid_prefix() -> None:
    reports = [status("dr-9-1", OrderStatus.NEW, None), status("primary-9-1", OrderStatus.NEW, None)]
    plan = plan_reconciliation(
        reports, {"dr-9-1": known("dr-9-1", "dr"), "primary-9-1": known("primary-9-1", "primary")}, "dr"
    )
    assert [r.cl_ord_id for r in plan.kept] == ["dr-9-1"]
    assert [r.cl_ord_id for r in plan.orphans] == ["primary-9-1"]


def test_mirror_positions_replace_venue_truth_only_when_given() -> None:
    reports = [status("p-1-1", OrderStatus.FILLED, "primary", cum=10)]
    assert plan_reconciliation(reports, {}, "dr").positions == {"BTC-USD": 10}
    assert plan_reconciliation(reports, {}, "dr", mirror_positions={"BTC-USD": 7}).positions == {"BTC-USD": 7}
