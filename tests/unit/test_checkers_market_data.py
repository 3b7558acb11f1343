"""The market-data checkers (gameday.checkers.market_data): feed switch time, orders priced off bad
data, time to halt on total feed loss, trading resumed after the re-arm; each from a built history."""

from __future__ import annotations

from typing import Any

from gameday.checkers import observe
from gameday.checkers.market_data import (
    FeedSwitchTime,
    FeedTimeToHalt,
    PricedOffBadData,
    TradingResumedAfterFeedRecovery,
)
from gameday.checkers.registry import DEFAULT_CHECKERS
from gameday.history import OpKind, OpType
from gameday.scenario import MaxBound
from gameday.verdict import Verdict, grade
from tests.unit.history_builder import HistoryBuilder, ns

LIMITS = {"feeds": ["A", "B"], "max_feed_age_ms": 1500, "divergence_bp": 25.0}


def _history(*, limits: dict[str, Any] | None = LIMITS) -> HistoryBuilder:
    history = HistoryBuilder()
    value = {"run_id": "run-1", "scenario": "s", "seed": 1, "defects": [], "services": {},
             "market_data": limits}
    return history.add(OpKind.RUN, OpType.INFO, "runner", "start", value, at=0.0)


def _feed_fault(history: HistoryBuilder, kind: str, feed: str, *, at: float, heal: float | None = None,
                fault_id: str = "f1-exchange") -> None:
    value = {"fault_id": fault_id, "fault": "exchange"}
    history.add(OpKind.FAULT, OpType.INVOKE, "nemesis", "exchange", value, at=at)
    history.add(OpKind.FAULT, OpType.OK, "nemesis", "exchange",
                {**value, "target": "exchange", "kind": kind, "params": {"feed": feed, "kind": kind}},
                at=at + 0.01)
    if heal is not None:
        history.add(OpKind.FAULT, OpType.OK, "nemesis", "heal", value, at=heal)


def _priced(history: HistoryBuilder, feed: str, *, at: float, seq: int, mid: float = 100.0,
            instance: str = "oms-primary", status: int = 201) -> None:
    history.sut("pricing", {"instance": instance, "symbol": "BTC-USD", "side": "buy", "client_type": "market",
                            "feed": feed, "seq": seq, "bid": mid - 0.01, "ask": mid + 0.01,
                            "quote_age_ms": 5.0, "order_id": f"o-{feed}-{seq}", "status": status}, at=at)


def _ledger(history: HistoryBuilder, md: list[dict[str, Any]], *, faults: list[dict[str, Any]] | None = None,
            mid: float = 100.0) -> None:
    truth = [{"kind": "price", "t_ns": ns(t / 10), "symbol": "BTC-USD", "bid": mid - 0.01,
              "ask": mid + 0.01, "mid": mid} for t in range(0, 200)]
    value = {"orders": [], "fills": [], "sessions": [], "now_ns": ns(20.0), "faults": faults or [],
             "market_data": md + truth}
    history.add(OpKind.LEDGER, OpType.OK, "venue", "snapshot", value, at=20.0)


def _md(feed: str, at: float, seq_first: int, seq_last: int) -> dict[str, Any]:
    return {"kind": "md", "t_ns": ns(at), "feed": feed, "symbol": "BTC-USD", "seq_first": seq_first,
            "seq_last": seq_last, "updates": seq_last - seq_first + 1, "dropped": 0,
            "bid": 99.99, "ask": 100.01, "last": 100.0}


def test_the_registry_has_the_four_market_data_checkers() -> None:
    for name in ("feeds.switch_time", "orders.priced_off_bad_data", "feeds.time_to_halt",
                 "trading.resumed_after_feed_recovery"):
        assert name in DEFAULT_CHECKERS


def test_switch_time_runs_from_the_venues_arm_line_to_the_trading_instances_switch() -> None:
    history = _history()
    _priced(history, "A", at=5.0, seq=10)
    _feed_fault(history, "feed_stall", "A", at=6.0, heal=12.0)
    history.sut("feeds", {"instance": "oms-dr", "selected": "B", "previous": "A", "switch": True}, at=7.0)
    history.sut("feeds", {"instance": "oms-primary", "selected": "B", "previous": "A", "switch": True,
                          "reason": "A stale: no message for 1510 ms"}, at=7.6)
    _priced(history, "B", at=7.7, seq=30)
    armed = {"kind": "fault", "t_ns": ns(6.005), "fault": "feed_stall", "action": "arm"}
    _ledger(history, [], faults=[armed])

    observation = FeedSwitchTime().check(history.ops)

    assert observation.value == 1.595  # from the venue's arm line (6.005), not the op (6.0)
    assert observation.evidence["switch"]["reason"].startswith("A stale")
    assert observation.evidence["first_priced_elsewhere"]["feed"] == "B"
    assert grade(MaxBound(max=3.0), observation) is Verdict.PASS


def test_an_oms_that_never_prices_off_another_feed_has_an_unbounded_switch_time() -> None:
    history = _history()
    _priced(history, "A", at=5.0, seq=10)
    _feed_fault(history, "feed_stall", "A", at=6.0, heal=12.0)
    _priced(history, "A", at=12.5, seq=11)  # back on A after the heal: it never left

    observation = FeedSwitchTime().check(history.ops)

    assert observation.unbounded
    assert grade(MaxBound(max=3.0), observation) is Verdict.FAIL
    assert "no order was priced off a feed other than A" in observation.note


def test_switch_time_is_unknown_without_a_fault_on_the_trading_feed_or_without_pricing() -> None:
    history = _history()
    _priced(history, "A", at=5.0, seq=10)
    _feed_fault(history, "feed_stall", "B", at=6.0)  # B was not the one trading
    assert FeedSwitchTime().check(history.ops).value is None
    assert "no fault hit" in FeedSwitchTime().check(history.ops).note
    assert "no oms.pricing" in FeedSwitchTime().check(_history().ops).note


def test_orders_priced_off_stale_or_diverged_data_are_counted_against_the_ledger() -> None:
    history = _history()
    _priced(history, "A", at=1.05, seq=3)  # published at 1.0: fresh, at the truth
    _priced(history, "A", at=2.6, seq=3)  # 1.6 s after: within the limit and the ledger's 100 ms
    _priced(history, "A", at=4.0, seq=3)  # the same quote 3 s later: stale
    _priced(history, "B", at=2.05, seq=8, mid=101.0)  # 100 bp off the truth when published: diverged
    _priced(history, "B", at=2.06, seq=2)  # before anything the ledger holds of B: not judged
    _ledger(history, [_md("A", 1.0, 1, 3), _md("B", 2.0, 5, 8)])

    observation = PricedOffBadData().check(history.ops)

    assert observation.value == 2
    whys = sorted((bad["feed"], bad["why"]) for bad in observation.evidence["bad"])
    assert whys == [("A", "stale"), ("B", "diverged")]
    assert observation.evidence["not_in_ledger"] == 1


def test_bad_data_is_unknown_without_the_limits_or_the_ledgers_market_data() -> None:
    assert "no market_data limits" in PricedOffBadData().check(_history(limits=None).ops).note
    history = _history()
    _priced(history, "A", at=1.0, seq=1)
    assert "no ledger snapshot" in PricedOffBadData().check(history.ops).note


def test_time_to_halt_runs_from_every_feed_faulted_to_the_feed_loss_trip() -> None:
    history = _history()
    _feed_fault(history, "feed_stall", "A", at=5.0, fault_id="f1")
    _feed_fault(history, "feed_crossed", "B", at=6.0, fault_id="f2")  # now both: a total loss
    history.alert("BreakerTripped", at=8.5, instance="oms-primary", reason="feed-loss")

    observation = FeedTimeToHalt().check(history.ops)

    assert observation.value == 2.49
    assert [fault["feed"] for fault in observation.evidence["loss"]["faults"]] == ["A", "B"]


def test_no_trip_after_a_total_loss_is_unbounded_and_one_feed_lost_is_no_total_loss() -> None:
    history = _history()
    _feed_fault(history, "feed_stall", "*", at=5.0)
    history.alert("BreakerTripped", at=2.0, instance="oms-primary", reason="drawdown")  # another breaker
    assert FeedTimeToHalt().check(history.ops).unbounded

    one = _history()
    _feed_fault(one, "feed_stall", "A", at=5.0, heal=6.0, fault_id="f1")
    _feed_fault(one, "feed_stall", "B", at=7.0, fault_id="f2")  # A healed before: never both
    assert observe(FeedTimeToHalt(), one.ops).value is None


def test_trading_resumed_after_the_rearm_only_with_an_accepted_order_after_it() -> None:
    history = _history()
    history.alert("BreakerTripped", at=8.0, instance="oms-primary", reason="feed-loss")
    assert TradingResumedAfterFeedRecovery().check(history.ops).value == 0
    history.alert("BreakerRearmed", at=12.0, instance="oms-primary", reason="feed-loss", operator="bob")
    _priced(history, "A", at=12.5, seq=40, status=503)
    assert TradingResumedAfterFeedRecovery().check(history.ops).value == 0
    _priced(history, "A", at=12.6, seq=41)

    observation = TradingResumedAfterFeedRecovery().check(history.ops)

    assert observation.value == 1
    assert observation.evidence["rearm"]["operator"] == "bob"
    assert TradingResumedAfterFeedRecovery().check(_history().ops).value is None
