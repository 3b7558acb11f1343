from typing import Any

import pytest

from gameday.checkers.deploy_start import LocalStartTime
from gameday.checkers.deploy_window import InMarketHours
from gameday.scenario import EqualsBound
from gameday.verdict import Verdict, grade
from tests.unit.deploy_history import publish, run_start
from tests.unit.history_builder import HistoryBuilder, ns

CHECKER = LocalStartTime()
ZERO = EqualsBound(equals=0)
NEW_YORK = "America/New_York"
WINDOW = {"start": "16:00:00", "end": "20:00:00", "tz": NEW_YORK, "days": [0, 1, 2, 3, 4], "max_volume": 0}
NIGHT = {**WINDOW, "start": "22:00:00", "end": "02:00:00"}


def _deployed(start: str, *at: float, window: dict[str, Any] | None = WINDOW,
              ok: bool = True) -> HistoryBuilder:
    """The market clock starts at ``start`` New York time; green is launched at each of ``at``."""
    fields: dict[str, Any] = {"clock": {"start": start, "tz": NEW_YORK, "rate": 1.0, "anchor_ns": ns(0)}}
    if window is not None:
        fields["schedule"] = window
    history = run_start(HistoryBuilder(), **fields)
    publish(history, "deploy.phases", {"phase": "idle", "reason": "deploy-requested"}, at=0.5)
    for t in at:
        publish(history, "deploy.actions", {"batch": 1, "action": {"kind": "launch", "instance": "oms-green"},
                                            "ok": ok, "error": None}, at=t)
    return history


def test_a_deploy_inside_its_window_passes() -> None:
    observation = CHECKER.check(_deployed("2026-11-20T15:59:50", 15.0).ops)

    assert observation.value == 0
    assert observation.evidence["window_time"] == "2026-11-20T16:00:05-05:00"
    assert observation.evidence["market_phase"] == "closed"
    assert grade(ZERO, observation) is Verdict.PASS


def test_a_utc_cron_deploying_mid_session_is_outside_the_window() -> None:
    """Seed 000: "16:00" read on a UTC host fires at 11:00 New York in November."""
    observation = CHECKER.check(_deployed("2026-11-20T10:59:45", 15.0).ops)

    assert observation.value == 1
    assert observation.evidence["outside"] == ["outside 16:00-20:00"]
    assert observation.evidence["market_phase"] == "open"
    assert grade(ZERO, observation) is Verdict.FAIL


def test_a_deploy_at_1443_on_a_closed_saturday_fails_where_market_hours_pass() -> None:
    """The issue's case: 19:43 UTC is inside a UTC-read 16:00-20:00; the market is closed all day."""
    history = _deployed("2026-11-21T14:42:50", 10.0)

    observation = CHECKER.check(history.ops)

    assert observation.value == 1
    assert observation.evidence["window_time"] == "2026-11-21T14:43:00-05:00"
    assert observation.evidence["outside"] == ["not a window day (saturday)", "outside 16:00-20:00"]
    assert InMarketHours().check(history.ops).value == 0  # the market-hours checker rightly sees it closed


@pytest.mark.parametrize(("start", "window", "outside"), [
    ("2026-11-21T16:59:50", WINDOW, ["not a window day (saturday)"]),
    ("2026-11-26T16:59:50", {**WINDOW, "holidays": ["2026-11-26"]}, ["a holiday"]),
    ("2026-11-20T19:59:50", WINDOW, ["outside 16:00-20:00"]),  # 20:00:00 is the end, not in it
    ("2026-11-21T16:59:50", {**WINDOW, "days": ["sat", "Sunday"]}, []),
    ("2026-11-20T23:59:50", NIGHT, []),  # Friday's night window, past midnight
    ("2026-11-22T23:59:50", NIGHT, ["not a window day (sunday)"]),
])
def test_days_holidays_and_wall_times_decide(start: str, window: dict[str, Any], outside: list[str]) -> None:
    observation = CHECKER.check(_deployed(start, 10.0, window=window).ops)

    assert observation.evidence["outside"] == outside
    assert observation.value == (1 if outside else 0)


def test_the_local_time_crosses_a_dst_change_like_a_real_clock() -> None:
    """01:59:50 EST + 20 s is 03:00:10 EDT (a naive wall-clock sum would say 02:00:10)."""
    window = {**WINDOW, "start": "03:00:00", "end": "04:00:00", "days": [6]}

    observation = CHECKER.check(_deployed("2026-03-08T01:59:50", 20.0, window=window).ops)

    assert observation.evidence["window_time"] == "2026-03-08T03:00:10-04:00"
    assert observation.value == 0


def test_the_window_is_read_in_its_own_zone() -> None:
    """A window declared in UTC is graded in UTC: 11:00 New York is 16:00 UTC, inside it."""
    observation = CHECKER.check(_deployed("2026-11-20T10:59:45", 15.0, window={**WINDOW, "tz": "UTC"}).ops)

    assert observation.evidence["window_time"] == "2026-11-20T16:00:00+00:00"
    assert observation.value == 0


def test_the_first_deploy_action_is_graded_even_when_it_failed() -> None:
    history = _deployed("2026-11-20T10:59:45", 15.0, ok=False)
    publish(history, "deploy.actions", {"batch": 2, "action": "launch", "ok": True}, at=20_000.0)

    observation = CHECKER.check(history.ops)

    assert observation.evidence["first_action"]["ok"] is False
    assert observation.value == 1


def test_no_deploy_action_is_zero() -> None:
    observation = CHECKER.check(_deployed("2026-11-20T10:59:45").ops)

    assert observation.value == 0
    assert observation.note == "no deploy action was taken"


def test_no_window_no_clock_or_no_deployer_is_unknown() -> None:
    no_window = _deployed("2026-11-20T10:59:45", 15.0, window=None)
    no_clock = publish(run_start(HistoryBuilder(), schedule=WINDOW), "deploy.actions",
                       {"batch": 1, "action": "launch", "ok": True}, at=1.0)
    no_deployer = run_start(HistoryBuilder(), schedule=WINDOW,
                            clock={"start": "2026-11-20T10:59:45", "tz": NEW_YORK, "anchor_ns": ns(0)})

    for history, note in ((no_window, "no deploy window"), (no_clock, "no market clock"),
                          (no_deployer, "no deploy.phases")):
        observation = CHECKER.check(history.ops)
        assert note in observation.note
        assert grade(ZERO, observation) is Verdict.UNKNOWN
