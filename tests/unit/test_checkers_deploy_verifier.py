from typing import Any

from gameday.checkers.deploy_records import OutputEvent
from gameday.checkers.verifier import DivergenceCaught, FalseClean, ShadowTruth, differing_fields
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import BLUE, GREEN, phase, publish, run_start, verdict
from tests.unit.history_builder import HistoryBuilder, ns


def _output(event_id: str, processed_s: float, *, position: int = 5, avg_price: float = 100.0,
            realized_pnl: float = 0.0, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "processed_ns": ns(processed_s), "symbol": "BTC-USD", "position": position,
            "avg_price": avg_price, "realized_pnl": realized_pnl, "order_status": "filled", "cum_qty": 5,
            **extra}


def _outputs(history: HistoryBuilder, *, green_delay_s: float, green_position: int = 5,
             events: int = 20) -> HistoryBuilder:
    """Blue books one fill every 0.5 s; green books each ``green_delay_s`` later."""
    for n in range(events):
        t = 1.0 + n * 0.5
        publish(history, "oms.outputs", {"instance": BLUE, **_output(f"e{n}", t)}, at=t)
        publish(history, "oms.shadow.outputs",
                {"instance": GREEN, **_output(f"e{n}", t + green_delay_s, position=green_position)},
                at=t + green_delay_s)
    return history


def _history() -> HistoryBuilder:
    return run_start(HistoryBuilder())


def _model(**fields: Any) -> OutputEvent:
    return OutputEvent.model_validate(_output("e", 1.0, **fields))


def test_outputs_within_a_basis_point_agree() -> None:
    blue = _model(avg_price=100.0, realized_pnl=1000.0)

    assert differing_fields(blue, _model(avg_price=100.009, realized_pnl=1000.05)) == []
    assert differing_fields(blue, _model(avg_price=100.02, realized_pnl=1000.0)) == ["avg_price"]
    assert differing_fields(_model(), _model(position=8)) == ["position"]
    assert differing_fields(_model(position=0), _model(position=1)) == ["position", "direction"]
    assert differing_fields(_model(), _model(order_status="partially_filled")) == ["order_status"]


def test_true_lag_is_the_oldest_event_green_has_not_processed() -> None:
    history = _outputs(HistoryBuilder(), green_delay_s=6.0)
    truth = ShadowTruth(*(_read(history, subject) for subject in ("oms.outputs", "oms.shadow.outputs")))

    assert truth.lag_ns(ns(5.0)) == ns(4.0) - ns(0)  # e0 (1.0 s) still waiting at 5 s
    assert truth.lag_ns(ns(8.0)) == ns(5.5) - ns(0)  # e0-e2 done by 8 s; e3 (2.5 s) waits
    assert truth.lag_ns(ns(30.0)) == ns(6.0) - ns(0)  # everything paired: the last pair's lag
    assert truth.first_difference is None


def _read(history: HistoryBuilder, subject: str) -> list[OutputEvent]:
    return [OutputEvent.model_validate(op.value) for op in history.ops if op.process == subject]


def test_clean_while_green_trails_by_six_seconds_is_false() -> None:
    history = _outputs(_history(), green_delay_s=6.0)
    for t in (4.0, 8.0, 10.0, 12.0):
        verdict(history, "clean", at=t, lag_s=0.0)

    observation = FalseClean().check(history.ops)

    assert observation.value == 3  # at 4 s green had been behind for 3 s only
    assert [entry["after_s"] for entry in observation.evidence["false_clean"]] == [8.0, 10.0, 12.0]
    assert observation.evidence["false_clean"][0]["why"].startswith("green trailed by")
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_stale_while_green_trails_is_right() -> None:
    history = _outputs(HistoryBuilder(), green_delay_s=6.0)
    for t in (4.0, 9.0, 12.0):
        verdict(history, "stale", at=t, lag_s=6.0)

    observation = FalseClean().check(history.ops)

    assert observation.value == 0
    assert observation.evidence["paired"] == 20


def test_clean_once_green_caught_up_is_right() -> None:
    history = _outputs(HistoryBuilder(), green_delay_s=0.05)
    for t in (3.0, 6.0, 9.0):
        verdict(history, "clean", at=t, lag_s=0.05)

    assert FalseClean().check(history.ops).value == 0


def test_clean_after_outputs_differed_is_false_past_the_delivery_allowance() -> None:
    history = _outputs(_history(), green_delay_s=0.05, green_position=8, events=4)  # e0 differs at 1.05 s
    verdict(history, "clean", at=1.5)  # the verifier may not have had the pair yet
    verdict(history, "clean", at=2.5)

    observation = FalseClean().check(history.ops)

    assert observation.value == 1
    assert observation.evidence["first_difference"]["fields"] == ["position"]
    assert observation.evidence["false_clean"][0]["after_s"] == 2.5


def test_clean_verdicts_without_outputs_cannot_be_judged() -> None:
    history = verdict(HistoryBuilder(), "clean", at=3.0)

    assert FalseClean().check(history.ops).value is None
    assert FalseClean().check(HistoryBuilder().ops).value is None
    assert FalseClean().check(verdict(HistoryBuilder(), "stale", at=3.0).ops).value == 0


def test_a_divergence_before_the_cutover_is_caught() -> None:
    history = verdict(verdict(_history(), "insufficient", at=3.0), "diverged", at=6.0)
    phase(history, "aborting", "verifier-diverged", at=6.1)

    observation = DivergenceCaught().check(history.ops)

    assert observation.value == 1
    assert observation.evidence["first_diverged"]["after_s"] == 6.0


def test_a_divergence_only_after_the_cutover_started_is_not_caught() -> None:
    history = verdict(HistoryBuilder(), "clean", at=5.0)
    phase(history, "cutting-over", "cutover-started", at=6.0)
    verdict(history, "diverged", at=7.0)

    observation = DivergenceCaught().check(history.ops)

    assert observation.value == 0
    assert observation.note == "diverged only after the cutover had started"


def test_no_divergence_reported_is_zero_and_no_deployer_is_unknown() -> None:
    assert DivergenceCaught().check(verdict(HistoryBuilder(), "clean", at=5.0).ops).value == 0
    assert DivergenceCaught().check(HistoryBuilder().ops).value is None


def test_only_verdicts_while_green_is_a_shadow_are_judged() -> None:
    history = _outputs(_history(), green_delay_s=0.05, events=10)
    verdict(history, "clean", at=4.0)
    phase(history, "cutting-over", "cutover-started", at=5.0)
    for n in range(10, 30):  # green, now active, publishes on oms.outputs: no shadow twin any more
        t = 6.0 + n * 0.5
        publish(history, "oms.outputs", {"instance": GREEN, **_output(f"e{n}", t)}, at=t)
    verdict(history, "clean", at=25.0)

    observation = FalseClean().check(history.ops)

    assert observation.value == 0
    assert observation.evidence["clean"] == 1
    assert observation.evidence["judged_until"]["after_s"] == 5.0
    assert observation.evidence["events"] == 10  # green's own outputs are not blue's
