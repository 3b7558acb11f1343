"""``fills.lost`` and ``db.write_recovery`` graded from hand-made histories: the venue's ledger, the
database capture at the end (rows with their write instants) and the faults on the database.
"""

from __future__ import annotations

from collections.abc import Sequence

from gameday.checkers import observe
from gameday.checkers.fills import DatabaseWriteRecovery, LostFills
from gameday.history import OpKind, OpType
from gameday.scenario import EqualsBound, MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ledger_fill, ns

LOST = LostFills()
RECOVERY = DatabaseWriteRecovery()
NONE_LOST = EqualsBound(equals=0)
TEN_SECONDS = MaxBound(max=10.0)


def database(history: HistoryBuilder, fills: Sequence[tuple[str, float]],
             orders: Sequence[tuple[str, float]] = (), *, complete: bool = True) -> HistoryBuilder:
    """The ``probe-database`` capture: (exec id, written at s) fills and (order id, written at s) orders."""
    value = {
        "server_port": 5433, "in_recovery": False, "complete": complete, "waited_s": 0.0,
        "fills": [{"exec_id": exec_id, "cl_ord_id": f"oms-primary-1-{exec_id}", "symbol": "BTC-USD",
                   "written_ns": ns(at)} for exec_id, at in fills],
        "orders": [{"cl_ord_id": order_id, "status": "filled", "written_ns": ns(at)}
                   for order_id, at in orders],
    }
    return history.add(OpKind.PROBE, OpType.OK, "probe-database", "database", value, at=41.0)


def killed_database(at: float = 10.0) -> HistoryBuilder:
    return HistoryBuilder().run_start().fault("kill", at=at, target="postgres")


LEDGER_FILLS = [
    ledger_fill("E1", "oms-primary", "BTC-USD", "buy", 1, t_s=5.0),
    ledger_fill("E2", "oms-primary", "ETH-USD", "sell", 2, t_s=11.0),
    ledger_fill("E3", "oms-primary", "BTC-USD", "buy", 3, t_s=12.5),
]


# --- fills.lost -----------------------------------------------------------------------------------


def test_no_fill_is_lost_when_every_ledger_fill_is_in_the_database() -> None:
    history = killed_database().ledger(fills=LEDGER_FILLS)
    observation = LOST.check(database(history, [("E1", 5.1), ("E2", 13.0), ("E3", 13.1)]).ops)

    assert observation.value == 0
    assert observation.evidence["lost"] == []
    assert observation.note == "every one of the 3 ledger fills is in the database"
    assert grade(NONE_LOST, observation) is Verdict.PASS


def test_ledger_fills_missing_from_the_database_are_lost_and_named() -> None:
    history = killed_database().ledger(fills=LEDGER_FILLS)
    observation = LOST.check(database(history, [("E1", 5.1)], complete=False).ops)

    assert observation.value == 2
    assert grade(NONE_LOST, observation) is Verdict.FAIL
    fault_ns = ns(10.001)
    assert observation.evidence["lost"] == [
        {"exec_id": "E2", "order_id": "oms-primary-1-E2", "instance": "oms-primary", "symbol": "ETH-USD",
         "side": "sell", "qty": 2, "t_ns": ns(11.0), "after_s": round((ns(11.0) - fault_ns) / 1e9, 6)},
        {"exec_id": "E3", "order_id": "oms-primary-1-E3", "instance": "oms-primary", "symbol": "BTC-USD",
         "side": "buy", "qty": 3, "t_ns": ns(12.5), "after_s": round((ns(12.5) - fault_ns) / 1e9, 6)},
    ]
    assert observation.evidence["lost_by_symbol"] == {"BTC-USD": 1, "ETH-USD": 1}
    assert observation.evidence["database_complete"] is False
    assert observation.note.startswith("2 of 3 ledger fills missing from the database (BTC-USD 1, ETH-USD 1)")


def test_database_fills_the_venue_never_made_are_counted_apart_not_lost() -> None:
    history = killed_database().ledger(fills=LEDGER_FILLS[:1])
    observation = LOST.check(database(history, [("E1", 5.1), ("phantom", 6.0)]).ops)

    assert observation.value == 0
    assert observation.evidence["database_fills_not_in_ledger"] == 1


def test_the_listing_is_capped_but_the_count_is_not() -> None:
    fills = [ledger_fill(f"E{n:02d}", "oms-primary", "BTC-USD", "buy", 1, t_s=11.0 + n / 10)
             for n in range(25)]
    observation = LOST.check(database(killed_database().ledger(fills=fills), []).ops)

    assert observation.value == 25
    assert observation.evidence["lost_listed"] == 20
    assert [fill["exec_id"] for fill in observation.evidence["lost"]] == [f"E{n:02d}" for n in range(20)]


def test_without_a_database_capture_lost_fills_are_unknown() -> None:
    observation = LOST.check(killed_database().ledger(fills=LEDGER_FILLS).ops)

    assert observation.value is None
    assert grade(NONE_LOST, observation) is Verdict.UNKNOWN
    assert observation.note == "no database capture in the history"


def test_an_unreadable_database_is_unknown_and_says_why() -> None:
    history = killed_database().ledger(fills=LEDGER_FILLS)
    history.add(OpKind.PROBE, OpType.FAIL, "probe-database", "database",
                {"error": "TargetServerAttributeNotMatched: no read-write host", "complete": False}, at=41.0)
    observation = LOST.check(history.ops)

    assert grade(NONE_LOST, observation) is Verdict.UNKNOWN
    assert "TargetServerAttributeNotMatched" in observation.note


def test_without_a_ledger_snapshot_lost_fills_are_unknown() -> None:
    observation = LOST.check(database(killed_database(), [("E1", 5.1)]).ops)

    assert grade(NONE_LOST, observation) is Verdict.UNKNOWN
    assert observation.note == "no ledger snapshot in the history"


def test_a_malformed_capture_grades_unknown_with_the_error() -> None:
    history = killed_database().ledger(fills=LEDGER_FILLS)
    history.add(OpKind.PROBE, OpType.OK, "probe-database", "database", {"fills": [{"exec_id": "E1"}]},
                at=41.0)
    observation = observe(LOST, history.ops)

    assert observation.error is not None
    assert "written_ns" in observation.error
    assert grade(NONE_LOST, observation) is Verdict.UNKNOWN


# --- db.write_recovery ----------------------------------------------------------------------------


def test_write_recovery_is_time_from_the_fault_to_the_first_write_after_it() -> None:
    history = killed_database()
    history.failover_decision("promoted", at=10.8, daemon="db-failover", failures=(3,), reason="promoted")
    history.failover_decision("promoted", at=10.9, daemon="failover-1", failures=(0,), reason="oms")
    history.ledger(fills=LEDGER_FILLS)
    observation = RECOVERY.check(database(history, [("E1", 5.1), ("E2", 12.5)], [("o-9", 12.3)]).ops)

    assert observation.value == round(12.3 - 10.001, 6)
    assert grade(TEN_SECONDS, observation) is Verdict.PASS
    evidence = observation.evidence
    assert evidence["first_write_after"] == {"table": "orders", "order_id": "o-9", "status": "filled",
                                             "t_ns": ns(12.3), "after_s": round(12.3 - 10.001, 6)}
    assert evidence["last_write_before"]["exec_id"] == "E1"
    assert evidence["promoted"] == [{"t_ns": ns(10.8), "after_s": round(10.8 - 10.001, 6)}]
    assert (evidence["fault"]["affected"], evidence["writes_after"]) == (["postgres"], 2)


def test_no_write_after_the_fault_never_recovered() -> None:
    history = killed_database().ledger(fills=LEDGER_FILLS)
    observation = RECOVERY.check(database(history, [("E1", 5.1)], [("o-1", 9.0)]).ops)

    assert observation.value is None
    assert observation.unbounded
    assert grade(TEN_SECONDS, observation) is Verdict.FAIL
    assert observation.evidence["ledger_fills_after"] == 2
    assert observation.evidence["last_write_before"]["order_id"] == "o-1"
    assert observation.note == ("no database write after the kill kill-0, though the venue filled "
                                "2 order(s) after it")


def test_a_late_first_write_fails_the_bound() -> None:
    history = killed_database().ledger(fills=LEDGER_FILLS)
    observation = RECOVERY.check(database(history, [("E1", 5.1), ("E2", 21.0)]).ops)

    assert observation.value == round(21.0 - 10.001, 6)
    assert grade(TEN_SECONDS, observation) is Verdict.FAIL


def test_a_partition_of_a_database_hop_is_a_database_outage() -> None:
    history = HistoryBuilder().run_start().fault("partition", at=4.0, proxy="oms-primary->postgres")
    observation = RECOVERY.check(database(history, [("E1", 3.0), ("E2", 6.0)]).ops)

    assert observation.value == round(6.0 - 4.001, 6)


def test_without_a_database_fault_write_recovery_is_unknown() -> None:
    history = HistoryBuilder().run_start().fault("kill", at=10.0, target="oms-primary")
    observation = RECOVERY.check(database(history, [("E1", 12.0)]).ops)

    assert grade(TEN_SECONDS, observation) is Verdict.UNKNOWN
    assert observation.note == "no kill, pause or partition of ['postgres']"
