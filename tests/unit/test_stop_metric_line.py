"""``stop_when.metric``: a condition on the scraped series crosses the stop line once it has held for its
``for``; absent series and scrapes before the workload never do."""

from __future__ import annotations

from gameday.history import OpKind, OpType
from gameday.scenario.stop_spec import StopSpec
from gameday.stop import first_crossing
from tests.unit.history_builder import HistoryBuilder, ns
from tests.unit.metrics_history import scrape

SPEC = StopSpec.model_validate({"metric": {"metric": "oms_unrealized_pnl", "across": "min", "below": -1000,
                                           "for": "500ms"}})


def _started() -> HistoryBuilder:
    history = HistoryBuilder().run_start(at=0.0)
    workload = {"phase": "workload", "starts_ns": ns(1.0)}
    return history.add(OpKind.RUN, OpType.INFO, "runner", "phase", workload, at=0.01)


def test_a_loss_below_the_line_for_its_for_stops_the_run() -> None:
    history = _started()
    for at, pnl in ((1.0, 0), (1.5, -800), (2.0, -1500), (2.25, -2500), (2.5, -4000), (3.0, -9000)):
        scrape(history, at, {"oms-primary": {"oms_unrealized_pnl": pnl}, "oms-dr": {"oms_unrealized_pnl": 0}})

    crossing = first_crossing(SPEC, history.ops)

    assert crossing is not None
    assert crossing.condition == "metric"
    assert crossing.t_ns == ns(2.5)  # held from 2.0 s, for 0.5 s
    assert crossing.observed == -4000
    assert crossing.figure == "min(oms_unrealized_pnl) = -4000"
    assert crossing.bound == "not below -1000"


def test_a_dip_shorter_than_for_an_absent_series_or_a_loss_before_the_workload_does_not() -> None:
    history = HistoryBuilder().run_start(at=0.0)
    scrape(history, 0.5, {"oms-primary": {"oms_unrealized_pnl": -50_000}})  # before the workload phase
    workload = {"phase": "workload", "starts_ns": ns(1.0)}
    history.add(OpKind.RUN, OpType.INFO, "runner", "phase", workload, at=0.9)
    for at, exported in ((1.0, {"oms_unrealized_pnl": -5000}), (1.25, {"oms_unrealized_pnl": 10}),
                         (1.5, None), (2.0, None), (2.5, None)):
        scrape(history, at, {"oms-primary": exported})

    assert first_crossing(SPEC, history.ops) is None
