"""The cutover gate on both sides: no cutover unless blue is alive and both event streams are current;
a dead blue never gets anyone parked (issue 10 item 6)."""

from __future__ import annotations

import pytest

from tests.unit.deploy_run import BLUE, GREEN, WINDOW_NS, Run, S, only
from trading_stack.config import Defect
from trading_stack.deploy.actions import DeployAction, HoldTraffic, InstanceRole, SetRole, StopInstance
from trading_stack.deploy.gate import describe
from trading_stack.deploy.timeline import Blocker, DeployPhase, DeployReason, RollbackRequested
from trading_stack.deploy.verifier import Verdict

Phase = DeployPhase
PARK_BLUE = SetRole(instance=BLUE, role=InstanceRole.PARKED)
PARK_GREEN = SetRole(instance=GREEN, role=InstanceRole.PARKED)
RESUME_BLUE = SetRole(instance=BLUE, role=InstanceRole.ACTIVE)


def blocked(run: Run) -> list[tuple[Blocker, ...]]:
    return [e.blockers for e in run.events if e.reason is DeployReason.CUTOVER_BLOCKED]


def after_launch(run: Run) -> list[DeployAction]:
    return run.executor.executed[1:]


@pytest.mark.parametrize(
    ("blue", "blocker"),
    [
        ("dead", Blocker.BLUE_NOT_ALIVE),
        ("unhealthy", Blocker.BLUE_UNHEALTHY),
        ("parked", Blocker.BLUE_NOT_ACTIVE),
        (None, Blocker.BLUE_NO_HEALTH),
    ],
)
async def test_a_clean_verdict_and_a_healthy_green_do_not_cut_over_from_a_blue_that_is_not_fit(
    blue: str | None, blocker: Blocker
) -> None:
    run = Run()
    await run.deploy()

    for second in range(10, 15):
        await run.at(second, blue=blue)

    assert run.phase is Phase.VERIFYING
    assert after_launch(run) == []
    assert blocked(run) == [(blocker,)]


async def test_a_blocked_cutover_says_why_in_words() -> None:
    run = Run()
    await run.deploy()

    await run.at(10, blue="dead", blue_seen=6 * S)

    event = run.events[-1]
    assert event.blockers == (Blocker.BLUE_NO_EVIDENCE, Blocker.BLUE_NOT_ALIVE)
    assert event.note == "cutover blocked: no evidence from blue in the last 5 s; blue not alive"


@pytest.mark.parametrize(
    ("blue_seen", "green_seen", "blockers"),
    [
        (WINDOW_NS + 1, 0, (Blocker.BLUE_NO_EVIDENCE,)),
        (0, None, (Blocker.GREEN_NO_EVIDENCE,)),
        (None, WINDOW_NS + 1, (Blocker.BLUE_NO_EVIDENCE, Blocker.GREEN_NO_EVIDENCE)),
    ],
)
async def test_the_cutover_waits_for_recent_events_from_both_sides(
    blue_seen: int | None, green_seen: int | None, blockers: tuple[Blocker, ...]
) -> None:
    run = Run()
    await run.deploy()

    await run.at(10, blue_seen=blue_seen, green_seen=green_seen)
    assert (run.phase, blocked(run)) == (Phase.VERIFYING, [blockers])

    await run.at(11, blue_seen=WINDOW_NS, green_seen=WINDOW_NS)  # the bound itself is still recent

    assert run.phase is Phase.LIVE


async def test_a_no_evidence_verdict_blocks_like_any_other_that_is_not_clean() -> None:
    run = Run()
    await run.deploy()

    await run.at(10, Verdict.NO_EVIDENCE)

    assert blocked(run) == [(Blocker.VERIFIER_NO_EVIDENCE,)]
    assert after_launch(run) == []


async def test_a_blue_that_comes_back_before_the_deadline_lets_the_cutover_go_ahead() -> None:
    run = Run(verification_deadline_s=20)
    await run.deploy()
    await run.at(10, blue="dead")

    await run.at(12)

    assert run.phase is Phase.LIVE
    assert after_launch(run)[:2] == [HoldTraffic(hold_s=2.0), PARK_BLUE]


async def test_a_blue_dead_at_the_deadline_aborts_without_touching_anyone() -> None:
    run = Run(verification_deadline_s=20)
    await run.deploy()
    await run.at(10, blue="dead")

    await run.at(20, blue="dead")

    assert run.phase is Phase.ABORTED
    assert after_launch(run) == []  # green is neither stopped nor parked: it stays in shadow
    aborted = run.events[-1]
    assert (aborted.previous, aborted.reason, aborted.batch) == (
        Phase.VERIFYING, DeployReason.VERIFICATION_TIMED_OUT, None)
    assert aborted.blockers == (Blocker.BLUE_NOT_ALIVE,)
    assert "green left in shadow" in (aborted.note or "")


async def test_a_divergence_or_a_rollback_with_blue_dead_aborts_hands_off_too() -> None:
    diverged, asked = Run(), Run()
    for run in (diverged, asked):
        await run.deploy()
    await diverged.at(3, Verdict.DIVERGED, blue="dead")
    await asked.at(3, blue="dead")
    await asked.feed(RollbackRequested(t_ns=4 * S, operator="alice"))

    assert (diverged.phase, asked.phase) == (Phase.ABORTED, Phase.ABORTED)
    assert (after_launch(diverged), after_launch(asked)) == ([], [])
    assert (diverged.events[-1].reason, asked.events[-1].reason) == (
        DeployReason.VERIFIER_DIVERGED, DeployReason.ROLLBACK_REQUESTED)


async def test_blue_dying_during_the_cutover_resumes_blue_and_never_parks_green() -> None:
    def fail(action: DeployAction) -> str | None:
        return "connection refused" if isinstance(action, SetRole) and action.instance == BLUE else None

    run = Run(fail=fail)
    await run.deploy()
    await run.at(10)

    assert after_launch(run) == [HoldTraffic(hold_s=2.0), PARK_BLUE, RESUME_BLUE]
    assert PARK_GREEN not in run.executor.executed
    assert StopInstance(instance=GREEN) not in run.executor.executed
    assert [(e.phase, e.reason) for e in run.events[-2:]] == [
        (Phase.ABORTING, DeployReason.CUTOVER_FAILED), (Phase.FAILED, DeployReason.ABORT_FAILED)]


async def test_a_cutover_that_fails_before_green_is_asked_gives_the_traffic_back_to_blue() -> None:
    run = Run(fail=lambda a: "front door busy" if isinstance(a, HoldTraffic) else None)
    await run.deploy()

    await run.at(10)

    resumed = [RESUME_BLUE, only(BLUE), StopInstance(instance=GREEN)]
    assert after_launch(run) == [HoldTraffic(hold_s=2.0), *resumed]
    assert run.phase is Phase.ABORTED
    assert run.upstream_sets() == [(BLUE,)]


async def test_defect_deploy_ignores_blue_health_cuts_over_from_a_dead_blue_and_parks_green() -> None:
    def fail(action: DeployAction) -> str | None:
        return "connection refused" if isinstance(action, SetRole) and action.instance == BLUE else None

    run = Run(Defect.DEPLOY_IGNORES_BLUE_HEALTH, fail=fail)
    await run.deploy()

    await run.at(10, blue="dead", blue_seen=None, green_seen=None)

    assert PARK_GREEN in run.executor.executed  # the incident: nothing active afterwards
    assert run.phase is Phase.FAILED
    assert DeployReason.CUTOVER_STARTED in run.reasons()


def test_describe_names_the_evidence_window() -> None:
    words = describe((Blocker.BLUE_NOT_ALIVE, Blocker.GREEN_NO_EVIDENCE), 2_500_000_000)

    assert words == "blue not alive; no evidence from green in the last 2.5 s"
    assert describe(tuple(Blocker)).count(";") == len(Blocker) - 1  # every blocker has words
