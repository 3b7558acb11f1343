"""``orders.sent_without_lease`` graded from the lease bucket's own writes (and the roles fallback)."""

from gameday.checkers.lease import LeaseEvidence, SentWithoutLease
from gameday.checkers.lease_writes import Loss, lease_log
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ledger_order, ns

CHECKER = SentWithoutLease()
PRIMARY, DR = "oms-primary", "oms-dr"


def _orders(instance: str, *times: float) -> list[dict[str, object]]:
    return [ledger_order(f"{instance}-1-{n}", instance, t) for n, t in enumerate(times)]


def test_one_holder_renewing_throughout_passes() -> None:
    history = HistoryBuilder().run_start_declaring_lease().lease_renewals(PRIMARY, start=0.5, end=20.0)
    history.ledger(orders=_orders(PRIMARY, 1.0, 5.0, 10.0, 19.9))

    observation = CHECKER.check(history.ops)

    assert observation.value == 0
    assert observation.evidence["lease_evidence"] == LeaseEvidence.WRITES.value
    assert observation.evidence["lease"] == {"bucket": "oms_lease", "key": "active", "ttl_s": 2.0,
                                             "writes": 50}
    assert [span["instance"] for span in observation.evidence["holders"]] == [PRIMARY]
    assert observation.note == "every order came from the lease holder (oms-primary)"
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


def _renewals_stop(*, with_writes: bool) -> HistoryBuilder:
    """oms-primary renews until 6 s, then keeps sending without a word; oms-dr creates the key at 11 s."""
    history = HistoryBuilder().run_start_declaring_lease()
    history.role(PRIMARY, "active", epoch=1, at=0.4, reason="promoted (startup)")
    history.role(DR, "active", epoch=2, at=11.0, reason="promoted (admin)")
    if with_writes:
        history.lease_renewals(PRIMARY, start=0.4, end=6.0)
        history.lease_renewals(DR, start=11.0, end=14.0, epoch=2)
    return history.ledger(orders=_orders(PRIMARY, 1.0, 7.9, 8.5, 10.0, 11.5) + _orders(DR, 12.0, 13.0))


def test_a_holder_whose_renewals_stop_sends_without_the_lease_past_the_ttl() -> None:
    observation = CHECKER.check(_renewals_stop(with_writes=True).ops)

    assert observation.value == 3  # 8.5 and 10.0 (its key expired at 8.0), 11.5 (oms-dr's key)
    assert observation.evidence["by_instance"] == {PRIMARY: 3}
    listed = observation.evidence["listed"]
    assert [order["received"]["after_s"] for order in listed] == [8.5, 10.0, 11.5]
    assert [order["reason"] for order in listed] == [Loss.EXPIRED.value, Loss.EXPIRED.value,
                                                     Loss.OTHER_HOLDER.value]
    assert [order["holder"] for order in listed] == [None, None, DR]
    assert listed[0]["own_last_write"]["after_s"] == 6.0
    assert [span["instance"] for span in observation.evidence["holders"]] == [PRIMARY, DR]
    assert observation.evidence["holders"][0]["expired"] is True
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_the_roles_alone_miss_the_orders_sent_after_the_key_expired() -> None:
    observation = CHECKER.check(_renewals_stop(with_writes=False).ops)

    assert observation.evidence["lease_evidence"] == LeaseEvidence.ROLES.value
    assert observation.value == 1  # only the order after oms-dr said it was active


def test_another_holders_create_while_the_holder_still_sends_fails() -> None:
    """The key is deleted under oms-primary (well within its TTL) and oms-dr creates it at once."""
    history = HistoryBuilder().run_start_declaring_lease().lease_renewals(PRIMARY, start=0.4, end=5.0)
    history.lease_write(None, op="DEL", at=5.1)
    history.lease_renewals(DR, start=5.2, end=8.0, epoch=2)
    history.ledger(orders=_orders(PRIMARY, 4.9, 5.15, 5.5) + _orders(DR, 5.3))

    observation = CHECKER.check(history.ops)

    assert observation.value == 2
    assert [(order["reason"], order["holder"]) for order in observation.evidence["listed"]] == [
        (Loss.DELETED.value, None), (Loss.OTHER_HOLDER.value, DR)]
    assert {"deleted": "DEL", "at": {"t_ns": ns(5.1), "after_s": 5.1}} in observation.evidence["holders"]


def test_a_write_sent_before_an_order_counts_for_its_writer_although_received_after() -> None:
    history = HistoryBuilder().run_start_declaring_lease().lease_renewals(PRIMARY, start=0.4, end=2.0)
    history.lease_write(DR, at=4.5, sent=4.2, epoch=2)  # the primary's key expired at 4.0
    history.ledger(orders=_orders(DR, 4.3) + _orders(PRIMARY, 4.1))

    observation = CHECKER.check(history.ops)

    assert observation.value == 1
    assert observation.evidence["listed"][0]["instance"] == PRIMARY


def test_orders_before_the_first_write_are_not_judged() -> None:
    history = HistoryBuilder().run_start_declaring_lease().lease_renewals(PRIMARY, start=3.0, end=6.0)
    history.ledger(orders=_orders(DR, 1.0, 2.0) + _orders(PRIMARY, 4.0))

    observation = CHECKER.check(history.ops)

    assert observation.value == 0
    assert observation.evidence["unjudged"] == 2


def test_other_keys_and_buckets_do_not_hold_the_lease_and_the_declared_ttl_wins() -> None:
    history = HistoryBuilder().run_start_declaring_lease(ttl_s=1.0)
    history.lease_renewals(PRIMARY, start=0.4, end=2.0)
    history.lease_write(DR, at=2.2, key="stepdown", epoch=2)
    history.lease_write(DR, at=2.3, bucket="oms_lease-oms-shadow", ttl_s=9.0)
    history.ledger(orders=_orders(PRIMARY, 2.5, 3.5))

    observation = CHECKER.check(history.ops)
    log = lease_log(history.ops)

    assert log is not None
    assert log.ttl_ns == 1_000_000_000
    assert observation.value == 1  # 3.5 is past the last renewal (2.0) + the declared 1 s
    assert observation.evidence["lease"]["writes"] == 5


def test_without_a_declaration_the_recorded_bucket_and_ttl_are_read() -> None:
    history = HistoryBuilder().run_start().lease_renewals(PRIMARY, start=0.4, end=2.0)
    history.ledger(orders=_orders(PRIMARY, 3.9, 4.1))

    observation = CHECKER.check(history.ops)

    assert observation.evidence["lease_evidence"] == LeaseEvidence.WRITES.value
    assert observation.value == 1  # the writes' own ttl_s: 2 s after 2.0


def test_no_ledger_or_no_attributed_order_is_unknown_even_with_writes() -> None:
    history = HistoryBuilder().run_start_declaring_lease().lease_renewals(PRIMARY, start=0.4, end=2.0)

    assert CHECKER.check(history.ops).value is None
    assert "no ledger snapshot" in CHECKER.check(history.ops).note
    assert grade(EqualsBound(equals=0), CHECKER.check(history.ops)) is Verdict.UNKNOWN
    assert "no attributed orders" in CHECKER.check(history.ledger(orders=[]).ops).note


def test_without_lease_writes_the_roles_are_read() -> None:
    history = HistoryBuilder().run_start_declaring_lease()
    history.role(PRIMARY, "active", epoch=1, at=0.1).role(PRIMARY, "fenced", epoch=1, at=5.0)
    history.ledger(orders=_orders(PRIMARY, 1.0, 6.0))

    observation = CHECKER.check(history.ops)

    assert observation.evidence["lease_evidence"] == LeaseEvidence.ROLES.value
    assert observation.value == 1
    assert "holders" not in observation.evidence


def test_no_writes_and_no_roles_is_unknown() -> None:
    history = HistoryBuilder().run_start_declaring_lease().ledger(orders=_orders(PRIMARY, 1.0))

    observation = CHECKER.check(history.ops)

    assert observation.value is None
    assert "no lease write recorded" in observation.note


def test_health_samples_alone_do_not_say_when_a_tenure_ended() -> None:
    # A stack without NATS: the health probe saw the primary active, then the DR after a failover.
    history = HistoryBuilder().run_start_declaring_lease().health({PRIMARY: "active", DR: "standby"}, at=0.5)
    history.health({PRIMARY: None, DR: "active"}, at=9.0)
    history.ledger(orders=_orders(PRIMARY, 1.0, 5.0) + _orders(DR, 10.0, 12.0))

    observation = CHECKER.check(history.ops)

    assert observation.value is None
    assert "needs the stack's NATS events" in observation.note
