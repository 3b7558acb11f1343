from gameday.checkers.deploy import LiveVersions
from gameday.checkers.divergence import PositionDivergence
from gameday.checkers.ledger_timeline import Segment, most_at_once, stretches
from gameday.history import OpKind, OpType
from gameday.scenario import MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import BLUE, GREEN, fill, ledger, publish, role, steady_orders
from tests.unit.history_builder import HistoryBuilder, ns

CHECKER = LiveVersions()


def _versions(history: HistoryBuilder, blue: str = "1.4.2", green: str = "1.4.3") -> HistoryBuilder:
    role(history, BLUE, "active", blue, at=0.0)
    return role(history, GREEN, "shadow", green, at=3.0)


def _canary() -> HistoryBuilder:
    """Blue takes orders throughout; green, a canary, one a second from 5 s to 15 s."""
    history = _versions(HistoryBuilder())
    return ledger(history, steady_orders(BLUE, 0.0, 20.0, 0.1) + steady_orders(GREEN, 5.0, 15.0, 1.0))


def test_a_canary_has_two_versions_live_at_once() -> None:
    observation = CHECKER.check(_canary().ops)

    assert observation.value == 2
    [together] = observation.evidence["together"]
    assert together["versions"] == ["1.4.2", "1.4.3"]
    assert (together["from"]["after_s"], together["to"]["after_s"]) == (5.0, 15.0)
    assert observation.evidence["orders_by_version"] == {"1.4.2": 201, "1.4.3": 11}
    assert grade(MaxBound(max=1), observation) is Verdict.FAIL


def test_an_atomic_cutover_to_a_new_version_has_one_live_at_a_time() -> None:
    history = _versions(HistoryBuilder())
    ledger(history, steady_orders(BLUE, 0.0, 9.9, 0.1) + steady_orders(GREEN, 10.3, 20.0, 0.1))

    observation = CHECKER.check(history.ops)

    assert observation.value == 1
    assert observation.evidence["together"] == []
    assert grade(MaxBound(max=1), observation) is Verdict.PASS


def test_two_instances_of_one_version_are_one_version() -> None:
    history = _versions(HistoryBuilder(), green="1.4.2")
    ledger(history, steady_orders(BLUE, 0.0, 20.0, 0.1) + steady_orders(GREEN, 5.0, 15.0, 0.5))

    assert CHECKER.check(history.ops).value == 1


def test_the_version_an_instance_announced_last_counts() -> None:
    history = role(HistoryBuilder(), BLUE, "active", "1.4.2", at=0.0)
    role(history, BLUE, "active", "1.4.3", at=9.95)  # restarted with the new build
    role(history, GREEN, "active", "1.4.2", at=0.0)
    ledger(history, steady_orders(BLUE, 0.0, 20.0, 0.1) + steady_orders(GREEN, 0.0, 20.0, 0.1))

    observation = CHECKER.check(history.ops)

    assert observation.value == 2
    assert observation.evidence["together"][0]["from"]["after_s"] == 10.0


def test_the_health_probe_tells_the_version_an_instance_runs() -> None:
    history = HistoryBuilder()
    for t, green_version in ((0.0, "1.4.2"), (4.0, "1.4.3")):  # green relaunched with 1.4.3
        history.add(OpKind.PROBE, OpType.OK, "probe-health", "health", {"instances": {
            BLUE: {"role": "active", "deep_ok": True, "version": "1.4.2"},
            GREEN: {"role": "active", "deep_ok": True, "version": green_version}}}, at=t)
    ledger(history, steady_orders(BLUE, 0.0, 20.0, 0.1) + steady_orders(GREEN, 5.0, 15.0, 1.0))

    observation = CHECKER.check(history.ops)

    assert observation.value == 2
    assert observation.evidence["orders_by_version"] == {"1.4.2": 201, "1.4.3": 11}


def test_an_instance_without_a_version_is_unknown() -> None:
    history = role(HistoryBuilder(), BLUE, "active", "1.4.2", at=0.0)
    role(history, GREEN, "active", None, at=0.0)
    ledger(history, steady_orders(BLUE, 0.0, 5.0, 0.1) + steady_orders(GREEN, 0.0, 5.0, 0.1))

    observation = CHECKER.check(history.ops)

    assert observation.value is None
    assert GREEN in observation.note
    assert CHECKER.check(HistoryBuilder().ops).value is None


def test_stretches_split_where_orders_pause_for_over_a_second() -> None:
    received = {"a": [ns(0), ns(0.5), ns(1.4), ns(3.0), ns(3.2)], "b": [ns(1.0)], "c": []}

    assert stretches(received) == [Segment("a", ns(0), ns(1.4)), Segment("b", ns(1.0), ns(1.0)),
                                   Segment("a", ns(3.0), ns(3.2))]
    assert most_at_once(stretches(received)) == 2
    assert most_at_once([Segment("a", 0, 10), Segment("b", 10, 12)]) == 2  # closed intervals
    assert most_at_once([]) == 0


def _positions(history: HistoryBuilder, instance: str, btc: int, *, at: float) -> HistoryBuilder:
    return publish(history, "oms.positions", {"instance": instance, "positions": {"BTC-USD": btc},
                                              "fills": 1}, at=at)


def test_positions_of_two_live_instances_that_fork_diverge() -> None:
    history = _canary()
    fills = [fill(f"e{n}", BLUE, n * 0.3, qty=10) for n in range(10)]  # 100 lots gross by 3 s
    ledger(history, history.ops.pop().value["orders"], fills)
    _positions(history, BLUE, 40, at=4.0)  # before green took orders: not compared
    _positions(history, GREEN, 40, at=5.0)
    _positions(history, BLUE, 45, at=8.0)
    _positions(history, GREEN, 48, at=10.0)

    observation = PositionDivergence().check(history.ops)

    assert observation.value == 500.0  # blue 45 against green 40 at 8 s, of 100 lots filled
    assert observation.evidence["compared"] == 3
    assert [entry["after_s"] for entry in observation.evidence["diverged"]] == [8.0, 10.0]
    assert grade(MaxBound(max=0), observation) is Verdict.FAIL


def test_instances_that_agree_a_moment_apart_do_not_diverge() -> None:
    history = _canary()
    for n, t in enumerate((4.0, 6.0, 8.0)):
        _positions(history, BLUE, n, at=t)
        _positions(history, GREEN, n, at=t + 0.01)

    observation = PositionDivergence().check(history.ops)

    assert observation.value == 0
    assert observation.evidence["compared"] > 0


def test_an_atomic_cutover_never_compares_blue_and_green() -> None:
    history = _versions(HistoryBuilder())
    ledger(history, steady_orders(BLUE, 0.0, 9.9, 0.1) + steady_orders(GREEN, 10.3, 20.0, 0.1))
    _positions(history, BLUE, 3, at=9.0)
    _positions(history, GREEN, 9, at=11.0)

    observation = PositionDivergence().check(history.ops)

    assert observation.value == 0
    assert observation.note == "never two instances taking orders at once"


def test_two_live_instances_without_position_samples_are_unknown() -> None:
    observation = PositionDivergence().check(_canary().ops)

    assert observation.value is None
    assert "no oms.positions" in observation.note
    assert PositionDivergence().check(HistoryBuilder().ops).value is None
