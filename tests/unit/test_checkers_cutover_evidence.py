from typing import Any

import pytest

from gameday.checkers.cutover_evidence import CutoverOnStaleEvidence
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import BLUE, GREEN, phase, publish, run_start
from tests.unit.history_builder import HistoryBuilder, ns

CHECKER = CutoverOnStaleEvidence()
ZERO = EqualsBound(equals=0)
WINDOW_NS = 5_000_000_000


def _verdict(history: HistoryBuilder, verdict: str, *, at: float, blue_s: float | None,
             green_s: float | None) -> HistoryBuilder:
    return publish(history, "deploy.verdicts", {
        "verdict": verdict, "compared": 50, "pending": 0, "lag_ns": 1_000_000,
        "last_blue_ns": None if blue_s is None else ns(blue_s),
        "last_green_ns": None if green_s is None else ns(green_s), "evidence_window_ns": WINDOW_NS}, at=at)


def _action(history: HistoryBuilder, batch: int, action: dict[str, Any], *, at: float,
            ok: bool = True) -> HistoryBuilder:
    value = {"batch": batch, "action": action, "ok": ok, "error": None}
    return publish(history, "deploy.actions", value, at=at)


def _deploy(*, verdict: str = "clean", blue_s: float | None = 9.8, green_s: float | None = 9.8,
            blue_alive: bool = True, cutover: bool = True, **cutover_fields: Any) -> HistoryBuilder:
    """Green in shadow from 1 s; the deployer decides the cutover at 10 s on the verdict of 9.9 s."""
    history = run_start(HistoryBuilder(), initial_roles={BLUE: "active", GREEN: "dormant"})
    phase(history, "launching", "deploy-requested", at=1.0, batch=1)
    _action(history, 1, {"kind": "launch", "instance": GREEN, "role": "shadow"}, at=1.01)
    phase(history, "verifying", "launched", at=1.02)
    _verdict(history, "insufficient", at=2.0, blue_s=1.9, green_s=None)
    _verdict(history, verdict, at=9.9, blue_s=blue_s, green_s=green_s)
    history.health({BLUE: "active" if blue_alive else None, GREEN: "shadow"}, at=9.5)
    if cutover:
        phase(history, "cutting-over", "cutover-started", at=10.0, batch=2, **cutover_fields)
        _action(history, 2, {"kind": "hold-traffic", "hold_s": 2.0}, at=10.01)
        _action(history, 2, {"kind": "set-role", "instance": BLUE, "role": "parked"}, at=10.02, ok=blue_alive)
    return history


def test_a_cutover_on_a_clean_verdict_with_fresh_evidence_and_a_live_blue_passes() -> None:
    observation = CHECKER.check(_deploy().ops)

    assert observation.value == 0
    cutover = observation.evidence["cutovers"][0]
    assert (cutover["blue"], cutover["stale"]) == (BLUE, [])
    assert cutover["verdict"]["blue_evidence_age_s"] == pytest.approx(0.2)
    assert grade(ZERO, observation) is Verdict.PASS


def test_a_dead_blue_read_as_clean_silence_is_a_cutover_on_stale_evidence() -> None:
    """Defect deploy-ignores-blue-health: blue died at 3 s, the verifier still says clean."""
    observation = CHECKER.check(_deploy(blue_s=3.0, green_s=3.0, blue_alive=False).ops)

    assert observation.value == 1
    assert observation.evidence["cutovers"][0]["stale"] == [
        "blue-no-evidence", "green-no-evidence", "blue-not-alive (health probe)"]
    assert grade(ZERO, observation) is Verdict.FAIL


@pytest.mark.parametrize(("fields", "stale"), [
    ({"verdict": "no-evidence"}, ["verdict-no-evidence"]),
    ({"blue_s": None}, ["blue-no-evidence"]),
    ({"green_s": 4.9}, ["green-no-evidence"]),
    ({"blockers": ["blue-not-alive"]}, ["blocker blue-not-alive"]),
])
def test_each_kind_of_stale_evidence_is_named(fields: dict[str, Any], stale: list[str]) -> None:
    observation = CHECKER.check(_deploy(**fields).ops)

    assert observation.value == 1
    assert observation.evidence["cutovers"][0]["stale"] == stale


def test_evidence_exactly_one_window_old_is_still_evidence() -> None:
    assert CHECKER.check(_deploy(blue_s=5.0, green_s=5.0).ops).value == 0


def test_a_blocked_phase_before_the_cutover_is_not_held_against_it() -> None:
    """The gate opens without an event when its blockers clear: an earlier blue-not-alive is history."""
    history = _deploy(cutover=False)
    phase(history, "verifying", "cutover-blocked", at=6.0, blockers=["blue-not-alive"])
    phase(history, "cutting-over", "cutover-started", at=10.0, batch=2)

    assert CHECKER.check(history.ops).value == 0


def test_the_end_of_a_split_is_not_a_second_decision() -> None:
    history = _deploy(cutover=False)
    phase(history, "split", "split-started", at=10.0, batch=2)
    publish(history, "deploy.phases", {"phase": "cutting-over", "previous": "split",
                                       "reason": "cutover-started", "batch": 3}, at=30.0)

    observation = CHECKER.check(history.ops)

    assert [cutover["reason"] for cutover in observation.evidence["cutovers"]] == ["split-started"]
    assert observation.value == 0


def test_no_cutover_is_zero() -> None:
    observation = CHECKER.check(_deploy(cutover=False).ops)

    assert observation.value == 0
    assert "no cutover decided" in observation.note


def test_no_deployer_or_no_verdict_is_unknown() -> None:
    no_deployer = HistoryBuilder().run_start()
    no_verdicts = [op for op in _deploy().ops if op.process != "deploy.verdicts"]

    for ops in (no_deployer.ops, no_verdicts):
        observation = CHECKER.check(ops)
        assert observation.value is None
        assert grade(ZERO, observation) is Verdict.UNKNOWN


def test_a_verdict_published_after_the_cutover_is_not_its_evidence() -> None:
    history = _deploy(verdict="stale")
    _verdict(history, "clean", at=10.5, blue_s=10.4, green_s=10.4)

    assert CHECKER.check(history.ops).evidence["cutovers"][0]["stale"] == ["verdict-stale"]
