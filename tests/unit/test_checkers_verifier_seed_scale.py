"""Seed 000's drift at its own scale: only a 1 bp tolerance sees it.

The outputs below are recorded from a run of scenarios/canary-seed-scale-drift.yaml on the correct
stack (2026-12-07, seed 73): blue 1.4.2 and green 1.4.3-cost for the same trade reports. Of the
103 pairs, 100 differed by more than 1 bp in average cost, the widest by 44.99 bp (E12 below);
lots, realised PnL, order state and CumQty agreed in every one.
"""

from typing import Any

import pytest

from gameday.checkers.deploy_records import OutputEvent
from gameday.checkers.verifier import TOLERANCE_BPS, FalseClean, differing_fields
from tests.unit.deploy_history import BLUE, GREEN, publish, run_start, verdict
from tests.unit.history_builder import HistoryBuilder, ns

LOOSER_BPS = 100.0

RECORDED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "E12": ({"position": 2, "avg_price": 3002.8900000000003, "order_status": "filled", "cum_qty": 2},
            {"position": 2, "avg_price": 2989.37875, "order_status": "filled", "cum_qty": 2}),
    "E25": ({"position": 5, "avg_price": 3002.4280000000003, "order_status": "partially_filled",
             "cum_qty": 2},
            {"position": 5, "avg_price": 2997.0235, "order_status": "partially_filled", "cum_qty": 2}),
}


def _event(event_id: str, fields: dict[str, Any], *, processed_s: float = 1.0) -> dict[str, Any]:
    return {"event_id": event_id, "processed_ns": ns(processed_s), "symbol": "ETH-USD", "realized_pnl": 0.0,
            "order_id": "oms-blue-1796667388105-9", **fields}


def _pair(event_id: str) -> tuple[OutputEvent, OutputEvent]:
    blue, green = RECORDED[event_id]
    return (OutputEvent.model_validate(_event(event_id, blue)),
            OutputEvent.model_validate(_event(event_id, green)))


@pytest.mark.parametrize(("event_id", "bps"), [("E12", 44.99), ("E25", 18.0)])
def test_the_recorded_drift_is_tens_of_bp_in_average_cost_alone(event_id: str, bps: float) -> None:
    blue, green = _pair(event_id)

    assert abs(green.avg_price - blue.avg_price) / blue.avg_price * 10_000 == pytest.approx(bps, abs=0.01)
    assert differing_fields(blue, green) == ["avg_price"]
    assert TOLERANCE_BPS == 1.0


@pytest.mark.parametrize("event_id", sorted(RECORDED))
def test_a_100_bp_bound_would_call_the_recorded_drift_equal(event_id: str) -> None:
    assert differing_fields(*_pair(event_id), tolerance_bps=LOOSER_BPS) == []


def test_a_clean_verdict_after_the_recorded_drift_is_false_for_the_checker() -> None:
    """A verifier with a looser tolerance would have said clean; the checker's 1 bp truth says not."""
    history = run_start(HistoryBuilder())
    for n, event_id in enumerate(sorted(RECORDED)):
        blue, green = RECORDED[event_id]
        t = 1.0 + n
        publish(history, "oms.outputs", {"instance": BLUE, **_event(event_id, blue, processed_s=t)}, at=t)
        publish(history, "oms.shadow.outputs",
                {"instance": GREEN, **_event(event_id, green, processed_s=t + 0.1)}, at=t + 0.1)
    verdict(history, "clean", at=5.0)

    observation = FalseClean().check(history.ops)

    assert observation.value == 1
    assert observation.evidence["first_difference"]["fields"] == ["avg_price"]
    assert observation.evidence["false_clean"][0]["why"] == "blue's and green's outputs had differed"
