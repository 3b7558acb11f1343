from typing import Any

import pytest

from gameday.checkers import observe
from gameday.checkers.ghost_alerts import OrdersBeforeGhostsAlerted
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import order
from tests.unit.history_builder import HistoryBuilder, instance_state, oms_order

CHECKER = OrdersBeforeGhostsAlerted()
ZERO = EqualsBound(equals=0)
PRIMARY, DR, BLUE = "oms-primary", "oms-dr", "oms-blue"
GHOSTS = ("oms-primary-1-g1", "oms-primary-1-g2")


def _ghost_alert(history: HistoryBuilder, cl_ord_id: str, *, at: float, instance: str = DR) -> HistoryBuilder:
    return history.alert("UnknownOpenOrder", at=at, instance=instance, order_id=cl_ord_id,
                         exchange_order_id=f"X-{cl_ord_id}", symbol="BTC-USD", qty=1, source="promotion")


def _failover(*, alerts_at: tuple[float, ...] = (12.0, 12.01), dr_orders_from: float = 12.2,
              reconciled: tuple[str, ...] = GHOSTS, dr_open_at_end: tuple[str, ...] = ()) -> HistoryBuilder:
    """oms-primary trades and leaves two resting orders; it dies at 10 s; oms-dr is promoted at 12.1 s."""
    history = HistoryBuilder().run_start()
    history.alert("PromotionReconciled", at=0.1, instance=PRIMARY, unknown_open_orders=[])
    history.role(PRIMARY, "active", epoch=1, at=0.2, reason="promoted (startup)")
    history.role(DR, "standby", epoch=0, at=0.3, reason="started as standby")
    history.fault("kill", at=10.0, target=PRIMARY)
    for cl_ord_id, at in zip(GHOSTS, alerts_at, strict=False):
        _ghost_alert(history, cl_ord_id, at=at)
    history.alert("PromotionReconciled", at=12.05, unknown_open_orders=list(reconciled))
    history.role(DR, "active", epoch=2, at=12.1, reason="promoted (admin)")
    orders = [order(f"oms-primary-1-{n}", PRIMARY, 1.0 + n) for n in range(3)]
    orders += [order(cl_ord_id, PRIMARY, 5.0, status="canceled", closed_s=12.06) for cl_ord_id in GHOSTS]
    orders += [order(f"oms-dr-1-{n}", DR, dr_orders_from + n * 0.5) for n in range(4)]
    history.final_state(active=DR, instances={
        DR: instance_state("active", open_orders=[oms_order(o, DR) for o in dr_open_at_end])})
    return history.ledger(orders=orders)


def test_a_promotion_that_alerts_every_ghost_before_its_first_order_passes() -> None:
    observation = CHECKER.check(_failover().ops)

    assert observation.value == 0
    promoted = observation.evidence["promotions"][-1]
    assert (promoted["instance"], promoted["ghosts"], promoted["never_alerted"]) == (DR, 2, 0)
    assert promoted["began"]["t_ns"] < promoted["active"]["t_ns"]
    assert grade(ZERO, observation) is Verdict.PASS


def test_orders_sent_before_the_last_ghost_was_alerted_are_counted() -> None:
    observation = CHECKER.check(_failover(alerts_at=(12.0, 13.4)).ops)  # dr orders at 12.2 .. 13.7

    assert observation.value == 3
    promoted = observation.evidence["promotions"][-1]
    assert [entry["cl_ord_id"] for entry in promoted["listed"]] == ["oms-dr-1-0", "oms-dr-1-1", "oms-dr-1-2"]
    assert grade(ZERO, observation) is Verdict.FAIL


def test_a_ghost_listed_as_unknown_but_never_alerted_blames_every_order_of_the_promotion() -> None:
    observation = CHECKER.check(_failover(alerts_at=(12.0,)).ops)

    assert observation.value == 4
    assert observation.evidence["promotions"][-1]["unalerted"] == ["oms-primary-1-g2"]
    assert "1 never alerted" in observation.note


def test_an_alert_naming_the_venue_order_id_alerts_the_ghost() -> None:
    history = _failover(alerts_at=())
    for cl_ord_id in GHOSTS:
        history.alert("UnknownOpenOrder", at=12.0, instance=DR, order_id=None,
                      exchange_order_id=f"X-{cl_ord_id}")

    assert CHECKER.check(history.ops).value == 0


def _restart(*, reconcile: bool) -> HistoryBuilder:
    """Blue leaves two orders resting, is restarted at 6 s and trades again from 8.6 s."""
    history = HistoryBuilder().run_start()
    history.alert("PromotionReconciled", at=0.1, instance=BLUE, unknown_open_orders=[])
    history.role(BLUE, "active", epoch=1, at=0.2, reason="promoted (startup)")
    history.action("restart", {"target": BLUE, "signal": "SIGTERM"}, at=6.0)
    resting = [order(f"oms-blue-1-r{n}", BLUE, 2.0, status="new") for n in range(2)]
    if reconcile:
        for resting_order in resting:
            _ghost_alert(history, resting_order["cl_ord_id"], at=8.0, instance=BLUE)
            resting_order["events"].append({"t_ns": resting_order["received_ns"] + 6_100_000_000,
                                            "status": "canceled"})
            resting_order["status"] = "canceled"
        history.alert("PromotionReconciled", at=8.1, instance=BLUE,
                      unknown_open_orders=[o["cl_ord_id"] for o in resting])
    history.role(BLUE, "active", epoch=3, at=8.5, reason="promoted (startup)")
    orders = [*resting, *(order(f"oms-blue-1-{n}", BLUE, 1.0 + n) for n in range(4)),
              *(order(f"oms-blue-2-{n}", BLUE, 8.6 + n) for n in range(3))]
    history.final_state(active=BLUE, instances={BLUE: instance_state("active")})
    return history.ledger(orders=orders)


def test_a_restart_that_never_reconciles_trades_beside_ghosts_it_never_alerted() -> None:
    """Defect no-startup-reconcile: the predecessor's resting orders stay open, unknown, unalerted."""
    observation = CHECKER.check(_restart(reconcile=False).ops)

    assert observation.value == 3
    restarted = observation.evidence["promotions"][-1]
    assert restarted["by_source"] == {"open at the venue, unknown at the end": 2}
    assert restarted["graded_against_final_state"] is True
    assert grade(ZERO, observation) is Verdict.FAIL


def test_a_restart_that_reconciles_passes_and_its_alerts_do_not_blame_the_previous_boot() -> None:
    observation = CHECKER.check(_restart(reconcile=True).ops)

    assert observation.value == 0
    first, second = observation.evidence["promotions"]
    assert (first["ghosts"], second["ghosts"]) == (0, 2)


def test_orders_known_at_the_end_are_not_ghosts() -> None:
    history = _restart(reconcile=False)
    history.final_state(active=BLUE, instances={BLUE: instance_state("active", open_orders=[
        oms_order("oms-blue-1-r0", BLUE), oms_order("oms-blue-1-r1", BLUE)])}, at=40.5)

    assert CHECKER.check(history.ops).value == 0


@pytest.mark.parametrize(("strip", "note"), [
    ("ledger", "no ledger snapshot"),
    ("alerts", "no oms.alerts"),
    ("roles", "no promotion"),
])
def test_missing_ledger_alerts_or_roles_is_unknown(strip: str, note: str) -> None:
    def kept(op: Any) -> bool:
        return not (op.kind == "ledger" if strip == "ledger" else op.f == strip)

    ops = [op for op in _failover().ops if kept(op)]
    observation = observe(CHECKER, ops)

    assert observation.value is None
    assert observation.error is None
    assert note in observation.note
    assert grade(ZERO, observation) is Verdict.UNKNOWN


def test_a_repeated_active_event_under_one_epoch_is_not_a_second_promotion() -> None:
    history = _failover()
    history.role(DR, "active", epoch=2, at=20.0, reason="")

    assert len(CHECKER.check(history.ops).evidence["promotions"]) == 2
