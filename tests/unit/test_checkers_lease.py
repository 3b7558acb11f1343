from gameday.checkers.lease import SentWithoutLease, tenures
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, failover_history, ledger_order

CHECKER = SentWithoutLease()


def _split_brain(*, old_primary_fenced: bool) -> HistoryBuilder:
    """oms-primary holds the lease (epoch 1) from start-up; oms-dr takes it (epoch 2) at 9 s."""
    history = HistoryBuilder().run_start()
    history.role("oms-primary", "active", epoch=1, at=0.1, reason="promoted (startup)")
    history.role("oms-dr", "standby", epoch=0, at=0.2, reason="started as standby")
    history.role("oms-dr", "active", epoch=2, at=9.0, reason="promoted (admin)")
    orders = [ledger_order("oms-primary-1-1", "oms-primary", 1.0), ledger_order("oms-dr-1-1", "oms-dr", 9.5)]
    if old_primary_fenced:
        history.role("oms-primary", "fenced", epoch=2, at=12.0, reason="fenced: lease not trusted")
    else:
        orders += [ledger_order("oms-primary-1-2", "oms-primary", 12.1),
                   ledger_order("oms-primary-1-3", "oms-primary", 12.2)]
    return history.ledger(orders=orders)


def test_orders_only_from_the_lease_holder_pass() -> None:
    observation = CHECKER.check(_split_brain(old_primary_fenced=True).ops)

    assert observation.value == 0
    assert [(t["instance"], t["epoch"]) for t in observation.evidence["tenures"]] == [
        ("oms-primary", 1), ("oms-dr", 2)]
    assert observation.note == "every order came from the lease holder (oms-primary then oms-dr)"
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


def test_an_old_primary_sending_after_the_dr_took_the_lease_fails() -> None:
    observation = CHECKER.check(_split_brain(old_primary_fenced=False).ops)

    assert observation.value == 2
    assert observation.evidence["by_instance"] == {"oms-primary": 2}
    assert [order["cl_ord_id"] for order in observation.evidence["listed"]] == [
        "oms-primary-1-2", "oms-primary-1-3"]
    assert observation.evidence["listed"][0]["holder"] == "oms-dr"
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_an_order_sent_while_nobody_held_the_lease_is_sent_without_it() -> None:
    history = HistoryBuilder().role("oms-primary", "active", epoch=1, at=0.1)
    history.role("oms-primary", "fenced", epoch=1, at=5.0)
    history.ledger(orders=[ledger_order("oms-primary-1-1", "oms-primary", 1.0),
                           ledger_order("oms-primary-1-2", "oms-primary", 6.0)])

    observation = CHECKER.check(history.ops)

    assert observation.value == 1
    assert observation.evidence["listed"][0]["holder"] is None


def test_an_active_claim_under_an_older_epoch_does_not_take_the_lease() -> None:
    history = _split_brain(old_primary_fenced=False)
    history.role("oms-primary", "active", epoch=1, at=12.05, reason="promoted (startup)")

    observation = CHECKER.check(history.ops)
    held, stale = tenures(history.ops)

    assert observation.value == 2
    assert [event.instance for event in stale] == ["oms-primary"]
    assert observation.evidence["stale_active_claims"][0]["epoch"] == 1
    assert [tenure.instance for tenure in held] == ["oms-primary", "oms-dr"]


def test_the_first_health_sample_names_a_holder_whose_start_up_was_not_recorded() -> None:
    assert CHECKER.check(failover_history().ops).value == 0
    assert CHECKER.check(failover_history(old_primary_keeps_sending=True).ops).value == 1
    held, _ = tenures(failover_history().ops)
    assert (held[0].instance, held[0].source) == ("oms-primary", "first health sample")
    assert held[0].start_ns is None


def test_two_instances_active_in_the_first_sample_name_no_holder() -> None:
    history = HistoryBuilder().health({"oms-primary": "active", "oms-dr": "active"}, at=0.5)
    history.ledger(orders=[ledger_order("oms-primary-1-1", "oms-primary", 1.0)])

    observation = CHECKER.check(history.ops)

    assert observation.value is None
    assert "no lease history" in observation.note


def test_no_ledger_or_no_attributed_order_is_unknown() -> None:
    history = HistoryBuilder().role("oms-primary", "active", epoch=1, at=0.1)

    assert CHECKER.check(history.ops).value is None
    assert "no ledger snapshot" in CHECKER.check(history.ops).note
    assert "no attributed orders" in CHECKER.check(history.ledger(orders=[]).ops).note
    assert grade(EqualsBound(equals=0), CHECKER.check(history.ops)) is Verdict.UNKNOWN
