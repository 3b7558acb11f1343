from gameday.checkers.store_backlog import StoreBacklogAtEnd, StoreRowsLost
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import publish
from tests.unit.history_builder import HistoryBuilder, store_backlog

LOST = StoreRowsLost()
AT_END = StoreBacklogAtEnd()
ZERO = EqualsBound(equals=0)
PRIMARY, BLUE = "oms-primary", "oms-blue"


def _steady(*, until: float = 10.0) -> HistoryBuilder:
    """oms-primary's writer keeping up: a sample a second, 100 rows written each."""
    history = HistoryBuilder().run_start()
    for second in range(1, int(until) + 1):
        store_backlog(history, PRIMARY, 0, at=float(second), written=100 * second)
    return history


def test_a_store_that_keeps_up_loses_nothing_and_ends_empty() -> None:
    history = _steady().run_end(at=12.0)

    lost, at_end = LOST.check(history.ops), AT_END.check(history.ops)

    assert (lost.value, at_end.value) == (0, 0)
    assert lost.evidence["instances"][PRIMARY]["last_sample"]["written"] == 1000
    assert grade(ZERO, lost) is Verdict.PASS
    assert grade(ZERO, at_end) is Verdict.PASS


def test_a_store_that_never_reconnects_ends_with_rows_queued_not_lost() -> None:
    """Defect no-db-reconnect: the writer gave up at 8 s; rows pile up until the end."""
    history = _steady(until=7.0)
    for second in range(8, 13):
        store_backlog(history, PRIMARY, 250 * (second - 7), at=float(second), written=700,
                      oldest_age_s=second - 7.5, connected=False)

    lost, at_end = LOST.check(history.ops), AT_END.check(history.ops)

    assert at_end.value == 1250
    assert at_end.note == "oms-primary 1250 queued (not connected)"
    assert lost.value == 0
    assert "1250 still queued at the end (not lost)" in lost.note
    assert grade(ZERO, at_end) is Verdict.FAIL


def test_a_young_backlog_while_trading_is_in_transit_not_at_the_end() -> None:
    history = store_backlog(_steady(), PRIMARY, 2, at=11.0, written=1100, oldest_age_s=0.003)

    observation = AT_END.check(history.ops)

    assert observation.value == 0
    assert observation.evidence["instances"][PRIMARY]["in_transit"] == 2


def test_rows_a_shutdown_could_not_write_are_lost() -> None:
    history = store_backlog(_steady(), PRIMARY, 40, at=11.0, written=1100, oldest_age_s=2.0, connected=False)
    history.alert("StoreRowsNotWritten", at=11.5, instance=PRIMARY, rows=42, dropped=42, written=1100)
    # the same closed store publishing once more: not a second loss
    store_backlog(history, PRIMARY, 0, at=11.6, written=1100, dropped=42, connected=False)

    lost, at_end = LOST.check(history.ops), AT_END.check(history.ops)

    assert lost.value == 42
    assert lost.note == "oms-primary lost 42"
    assert at_end.value == 0
    assert at_end.evidence["instances"][PRIMARY]["boots"] == 1
    assert grade(ZERO, lost) is Verdict.FAIL


def test_each_boot_of_a_restarted_instance_counts_its_own_losses() -> None:
    history = HistoryBuilder().run_start()
    store_backlog(history, BLUE, 3, at=1.0, written=500, oldest_age_s=1.5, connected=False)
    history.action("restart", {"target": BLUE, "signal": "SIGTERM"}, at=2.0)
    history.alert("StoreRowsNotWritten", at=2.5, instance=BLUE, rows=3)
    store_backlog(history, BLUE, 0, at=4.0, written=20)
    store_backlog(history, BLUE, 0, at=5.0, written=90, dropped=1)

    observation = LOST.check(history.ops)

    assert observation.value == 4
    assert observation.evidence["instances"][BLUE]["boots"] == 2


def test_a_killed_or_stopped_instance_has_no_backlog_at_the_end_only_an_unresolved_one() -> None:
    history = store_backlog(_steady(until=5.0), PRIMARY, 40, at=6.0, written=600, oldest_age_s=1.2)
    history.fault("kill", at=6.5, target=PRIMARY)
    store_backlog(history, BLUE, 9, at=7.0, written=10, oldest_age_s=1.1)
    publish(history, "deploy.actions", {"batch": 4, "action": {"kind": "stop", "instance": BLUE}, "ok": True},
            at=7.5)

    at_end, lost = AT_END.check(history.ops), LOST.check(history.ops)

    assert at_end.value == 0
    assert lost.value == 0
    instances = at_end.evidence["instances"]
    assert (instances[PRIMARY]["stopped"], instances[PRIMARY]["unresolved"]) == ("killed", 40)
    assert (instances[BLUE]["stopped"], instances[BLUE]["unresolved"]) == ("stopped by the deployer", 9)


def test_no_backlog_published_is_unknown() -> None:
    history = HistoryBuilder().run_start().alert("StoreRowsNotWritten", at=3.0, instance=PRIMARY, rows=5)

    for checker in (LOST, AT_END):
        observation = checker.check(history.ops)
        assert observation.value is None
        assert "no oms.store_backlog sample" in observation.note
        assert grade(ZERO, observation) is Verdict.UNKNOWN
