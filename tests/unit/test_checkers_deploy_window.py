from datetime import datetime
from typing import Any

import pytest

from gameday.checkers import observe
from gameday.checkers.deploy_window import ExchangeHours, ExchangePhase, InMarketHours
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import publish, run_start
from tests.unit.history_builder import HistoryBuilder, ns

CHECKER = InMarketHours()
NEW_YORK = "America/New_York"


def _clock(start: str, rate: float = 1.0) -> dict[str, Any]:
    return {"start": start, "tz": NEW_YORK, "rate": rate, "anchor_ns": ns(0)}


def _action(history: HistoryBuilder, action: str, *, at: float, ok: bool = True) -> HistoryBuilder:
    return publish(history, "deploy.actions", {"batch": 1, "action": action, "ok": ok,
                                               "error": None if ok else "503"}, at=at)


def _deployed(start: str, *at: float, rate: float = 1.0) -> HistoryBuilder:
    history = run_start(HistoryBuilder(), clock=_clock(start, rate))
    publish(history, "deploy.schedule", {"act": False, "reason": "outside-window"}, at=0.5)
    for t in at:
        _action(history, "launch", at=t)
    return history


def test_a_utc_cron_deploys_mid_session() -> None:
    """Seed 000: "16:00" on a UTC host fires at 11:00 New York in November."""
    history = _deployed("2026-11-20T10:59:30", 30.5)
    _action(history, "set-upstreams", at=38.0)
    _action(history, "hold-traffic", at=37.9)  # not a deploy action
    _action(history, "set-upstreams", at=39.0, ok=False)  # not taken

    observation = CHECKER.check(history.ops)

    assert observation.value == 2
    first = observation.evidence["actions"][0]
    assert (first["exchange_time"], first["phase"]) == ("2026-11-20T11:00:00.500000-05:00", "open")
    assert grade(EqualsBound(equals=0), observation) is Verdict.FAIL


def test_no_deploy_action_all_session_is_zero() -> None:
    observation = CHECKER.check(_deployed("2026-11-20T10:59:30").ops)

    assert observation.value == 0
    assert grade(EqualsBound(equals=0), observation) is Verdict.PASS


@pytest.mark.parametrize(("start", "expected"), [
    ("2026-11-20T16:00:00", 0),   # after the close
    ("2026-11-21T11:00:00", 0),   # a Saturday
    ("2026-11-20T08:00:00", 1),   # pre-open is not closed
    ("2026-11-20T03:59:00", 0),   # before pre-open
])
def test_the_exchange_phase_decides(start: str, expected: int) -> None:
    assert CHECKER.check(_deployed(start, 1.0).ops).value == expected


def test_the_clock_runs_at_its_rate() -> None:
    assert CHECKER.check(_deployed("2026-11-20T15:59:00", 0.5, rate=60).ops).value == 1  # 15:59:30
    assert CHECKER.check(_deployed("2026-11-20T15:59:00", 2.0, rate=60).ops).value == 0  # 16:01


def test_exchange_time_crosses_a_dst_change_in_real_time() -> None:
    observation = CHECKER.check(_deployed("2026-03-08T01:59:50", 20.0).ops)

    assert observation.evidence["actions"][0]["exchange_time"] == "2026-03-08T03:00:10-04:00"


def test_no_clock_or_no_deployer_is_unknown() -> None:
    no_clock = _action(run_start(HistoryBuilder()), "launch", at=1.0)
    no_deployer = run_start(HistoryBuilder(), clock=_clock("2026-11-20T10:59:30"))

    assert CHECKER.check(no_clock.ops).value is None
    assert "no market clock" in CHECKER.check(no_clock.ops).note
    assert CHECKER.check(no_deployer.ops).value is None


def test_an_unknown_zone_in_the_run_record_is_unknown_not_a_crash() -> None:
    history = run_start(HistoryBuilder(), clock={**_clock("2026-11-20T10:59:30"), "tz": "Mars/Olympus"})

    observation = observe(CHECKER, history.ops)

    assert observation.value is None
    assert observation.error is not None
    assert "unknown time zone 'Mars/Olympus'" in observation.error


def test_exchange_hours() -> None:
    hours = ExchangeHours()

    assert hours.phase(datetime(2026, 11, 20, 9, 29)) is ExchangePhase.PRE_OPEN
    assert hours.phase(datetime(2026, 11, 20, 9, 30)) is ExchangePhase.OPEN
    assert hours.phase(datetime(2026, 11, 20, 16, 0)) is ExchangePhase.CLOSED
    assert hours.phase(datetime(2026, 11, 22, 12, 0)) is ExchangePhase.CLOSED  # Sunday
