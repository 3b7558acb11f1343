"""The blue-green deployer state machine, driven through the driver with a recording executor."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests.unit.deploy_run import BLUE, GREEN, Run, S, blue_report, only, verification
from trading_stack.config import Defect
from trading_stack.deploy.actions import (
    ActionKind,
    ActionOutcome,
    DeployAction,
    HoldTraffic,
    InstanceRole,
    Launch,
    NoopExecutor,
    RestorePositions,
    SetRole,
    SetUpstreams,
    StopInstance,
    Unwind,
    Upstream,
)
from trading_stack.deploy.config import DeployConfig, DeployMode
from trading_stack.deploy.deployer import Deployer
from trading_stack.deploy.driver import DeployDriver, run_batch
from trading_stack.deploy.timeline import (
    BatchDone,
    Blocker,
    DeployPhase,
    DeployReason,
    DeployRequested,
    HealthReport,
    OrderOutcomes,
    RollbackRequested,
    Tick,
    VerifierReport,
)
from trading_stack.deploy.verifier import Verdict
from trading_stack.deploy.versions import OmsVersion

Phase = DeployPhase


# -- blue-green ------------------------------------------------------------------------
async def test_blue_green_launches_green_in_shadow_and_waits_for_the_verification_window() -> None:
    run = Run()
    await run.deploy()

    shadow = Launch(instance=GREEN, version=OmsVersion.V1_4_3, role=InstanceRole.SHADOW)
    assert run.executor.executed == [shadow]
    assert run.phase is Phase.VERIFYING

    await run.at(9.999)

    assert run.phase is Phase.VERIFYING
    assert run.upstream_sets() == []


async def test_a_clean_verdict_and_a_deep_healthy_green_cut_over_in_one_swap() -> None:
    run = Run()
    await run.deploy()

    await run.at(10)

    assert run.executor.executed[1:] == [
        HoldTraffic(hold_s=2.0),
        SetRole(instance=BLUE, role=InstanceRole.PARKED),
        SetRole(instance=GREEN, role=InstanceRole.ACTIVE),
        only(GREEN),
    ]
    assert run.phase is Phase.LIVE
    assert [(e.previous, e.phase, e.reason) for e in run.events] == [
        (Phase.IDLE, Phase.LAUNCHING, DeployReason.DEPLOY_REQUESTED),
        (Phase.LAUNCHING, Phase.VERIFYING, DeployReason.LAUNCHED),
        (Phase.VERIFYING, Phase.CUTTING_OVER, DeployReason.CUTOVER_STARTED),
        (Phase.CUTTING_OVER, Phase.LIVE, DeployReason.CUTOVER_DONE),
    ]
    assert run.events[2].verdict is Verdict.CLEAN
    assert all(e.version is OmsVersion.V1_4_3 for e in run.events)


async def test_blue_is_parked_for_the_rollback_window_then_stopped() -> None:
    run = Run(rollback_window_s=30)
    await run.live()

    await run.feed(Tick(t_ns=39 * S))
    assert run.phase is Phase.LIVE

    await run.feed(Tick(t_ns=40 * S))

    assert run.phase is Phase.COMPLETED
    assert run.executor.executed[-1] == StopInstance(instance=BLUE)
    assert run.reasons()[-2:] == [DeployReason.ROLLBACK_WINDOW_CLOSED, DeployReason.BLUE_STOPPED]


async def test_every_upstream_set_of_a_correct_deploy_and_rollback_has_one_instance() -> None:
    run = Run()
    await run.live()
    await run.feed(RollbackRequested(t_ns=12 * S, operator="alice"))

    assert run.upstream_sets() == [(GREEN,), (BLUE,)]


@pytest.mark.parametrize(
    ("verdict", "healthy", "blockers"),
    [
        (Verdict.STALE, True, (Blocker.VERIFIER_STALE,)),
        (Verdict.INSUFFICIENT, True, (Blocker.VERIFIER_INSUFFICIENT,)),
        (Verdict.CLEAN, False, (Blocker.GREEN_UNHEALTHY,)),
        (None, None, (Blocker.NO_VERDICT, Blocker.NO_HEALTH)),
        (Verdict.STALE, False, (Blocker.VERIFIER_STALE, Blocker.GREEN_UNHEALTHY)),
    ],
)
async def test_the_cutover_is_blocked_until_verdict_and_health_allow_it(
    verdict: Verdict | None, healthy: bool | None, blockers: tuple[Blocker, ...]
) -> None:
    run = Run()
    await run.deploy()

    await run.at(10, verdict, healthy)
    await run.at(11, verdict, healthy)

    assert run.phase is Phase.VERIFYING
    assert run.upstream_sets() == []
    blocked = [e for e in run.events if e.reason is DeployReason.CUTOVER_BLOCKED]
    assert [e.blockers for e in blocked] == [blockers]  # reported once, not on every tick

    await run.at(12)

    assert run.phase is Phase.LIVE


async def test_reports_older_than_the_max_age_do_not_allow_a_cutover() -> None:
    run = Run(report_max_age_s=2)
    await run.deploy()
    await run.at(8)

    await run.feed(Tick(t_ns=10 * S + 1))

    assert run.phase is Phase.VERIFYING
    assert run.events[-1].blockers == (Blocker.VERDICT_OUTDATED, Blocker.HEALTH_OUTDATED,
                                       Blocker.BLUE_HEALTH_OUTDATED)


async def test_a_divergence_aborts_at_once_and_green_never_takes_traffic() -> None:
    run = Run()
    await run.deploy()

    await run.at(3, Verdict.DIVERGED)

    assert run.phase is Phase.ABORTED
    assert run.executor.executed[1:] == [
        StopInstance(instance=GREEN), SetRole(instance=BLUE, role=InstanceRole.ACTIVE), only(BLUE),
    ]
    aborting = run.events[2]
    assert (aborting.reason, aborting.verdict) == (DeployReason.VERIFIER_DIVERGED, Verdict.DIVERGED)


async def test_no_clean_verdict_by_the_deadline_aborts() -> None:
    run = Run(verification_deadline_s=20)
    await run.deploy()
    await run.at(19.9, Verdict.STALE)
    assert run.phase is Phase.VERIFYING

    await run.at(20, Verdict.STALE)

    assert run.phase is Phase.ABORTED
    timed_out = [e for e in run.events if e.reason is DeployReason.VERIFICATION_TIMED_OUT]
    assert [e.blockers for e in timed_out] == [(Blocker.VERIFIER_STALE,)]
    assert GREEN not in {i for s in run.upstream_sets() for i in s}


# -- rollback --------------------------------------------------------------------------
async def test_more_green_rejects_than_the_bound_roll_back_with_restore_and_unwind_before_blue_takes_traffic(
) -> None:
    run = Run(reject_limit=3)
    await run.live()

    await run.feed(OrderOutcomes(t_ns=11 * S, instance=GREEN, accepted=5, rejected=3))
    assert run.phase is Phase.LIVE
    await run.feed(OrderOutcomes(t_ns=12 * S, instance=GREEN, accepted=0, rejected=1))

    assert run.phase is Phase.ROLLED_BACK
    rollback = run.executor.executed[5:]
    assert rollback == [
        HoldTraffic(hold_s=2.0 + 5.0),
        SetRole(instance=GREEN, role=InstanceRole.PARKED),
        RestorePositions(instance=BLUE),
        SetRole(instance=BLUE, role=InstanceRole.ACTIVE),
        Unwind(instance=BLUE, timeout_s=5.0),
        only(BLUE),
        StopInstance(instance=GREEN),
    ]
    triggered = next(e for e in run.events if e.reason is DeployReason.REJECTS_EXCEEDED)
    assert (triggered.t_ns, triggered.rejects) == (12 * S, 4)


async def test_rejects_outside_the_window_or_from_blue_do_not_roll_back() -> None:
    run = Run(reject_limit=3, reject_window_s=5)
    await run.live()

    await run.feed(OrderOutcomes(t_ns=11 * S, instance=GREEN, accepted=0, rejected=3))
    await run.feed(OrderOutcomes(t_ns=16 * S, instance=GREEN, accepted=0, rejected=3))
    await run.feed(OrderOutcomes(t_ns=16 * S, instance=BLUE, accepted=0, rejected=9))

    assert run.phase is Phase.LIVE
    assert run.deployer.recent_rejects(16 * S) == 3


async def test_defect_no_auto_rollback_keeps_a_rejecting_green_live() -> None:
    run = Run(Defect.NO_AUTO_ROLLBACK)
    await run.live()

    await run.feed(OrderOutcomes(t_ns=11 * S, instance=GREEN, accepted=0, rejected=50))

    assert run.phase is Phase.LIVE


@pytest.mark.parametrize(("defect", "left_out"), [
    (Defect.ROLLBACK_WITHOUT_RESTORE, RestorePositions),  # blue takes traffic with its stale book
    (Defect.ROLLBACK_WITHOUT_UNWIND, Unwind),  # green's orders and positions are left as they are
])
async def test_a_defective_rollback_leaves_out_its_step_and_still_gives_blue_the_traffic(
    defect: Defect, left_out: type[DeployAction],
) -> None:
    run = Run(defect)
    await run.live()

    await run.feed(RollbackRequested(t_ns=11 * S, operator="alice"))

    assert run.phase is Phase.ROLLED_BACK
    assert not any(isinstance(a, left_out) for a in run.executor.executed)
    assert any(isinstance(a, RestorePositions | Unwind) for a in run.executor.executed)
    assert run.upstream_sets()[-1] == (BLUE,)


async def test_a_failed_cutover_rolls_back_and_a_failed_rollback_fails_the_deploy() -> None:
    def fail(action: DeployAction) -> str | None:
        if action == SetRole(instance=GREEN, role=InstanceRole.ACTIVE):
            return "green cannot log on"
        return "database unreachable" if isinstance(action, RestorePositions) else None

    run = Run(fail=fail)
    await run.deploy()
    await run.at(10)

    assert run.phase is Phase.FAILED
    failed = [(e.reason, e.failed_action, e.error) for e in run.events if e.error]
    assert failed == [
        (DeployReason.CUTOVER_FAILED, ActionKind.SET_ROLE, "green cannot log on"),
        (DeployReason.ROLLBACK_FAILED, ActionKind.RESTORE_POSITIONS, "database unreachable"),
    ]
    assert (GREEN,) not in run.upstream_sets()


async def test_a_failed_launch_aborts() -> None:
    run = Run(fail=lambda a: "no such build" if isinstance(a, Launch) else None)
    await run.deploy()

    assert run.phase is Phase.ABORTED
    assert run.events[1].reason is DeployReason.LAUNCH_FAILED


async def test_an_executor_that_raises_fails_its_action() -> None:
    class Broken(NoopExecutor):
        async def execute(self, action: DeployAction) -> ActionOutcome:
            raise ConnectionResetError("peer reset")

    failure = await run_batch(Broken(), [StopInstance(instance=BLUE)])

    assert failure is not None
    assert (failure.index, failure.error) == (0, "ConnectionResetError: peer reset")


# -- canary and non-atomic (defects) ---------------------------------------------------
@pytest.mark.parametrize("config", [{"mode": DeployMode.CANARY}, {"defects": (Defect.CANARY_DEPLOY,)}])
async def test_canary_sends_ten_percent_of_the_flow_to_a_live_green(config: dict[str, Any]) -> None:
    run = Run(**config)
    await run.deploy()

    assert run.executor.executed == [
        Launch(instance=GREEN, version=OmsVersion.V1_4_3, role=InstanceRole.ACTIVE, own_lease=True),
        SetUpstreams(upstreams=(Upstream(instance=BLUE, weight=90), Upstream(instance=GREEN, weight=10))),
    ]
    assert run.phase is Phase.CANARY

    await run.at(20, verdict=Verdict.DIVERGED)

    assert run.phase is Phase.LIVE
    assert run.upstream_sets() == [(BLUE, GREEN), (GREEN,)]


async def test_defect_non_atomic_cutover_leaves_both_upstreams_live_for_the_split_window() -> None:
    run = Run(Defect.NON_ATOMIC_CUTOVER, split_window_s=2)
    await run.deploy()
    await run.at(10)

    assert run.phase is Phase.SPLIT
    assert run.upstream_sets() == [(BLUE, GREEN)]
    await run.feed(Tick(t_ns=int(11.9 * S)))
    assert run.phase is Phase.SPLIT

    await run.feed(Tick(t_ns=12 * S))

    assert run.phase is Phase.LIVE
    assert run.upstream_sets() == [(BLUE, GREEN), (GREEN,)]
    assert SetRole(instance=GREEN, role=InstanceRole.ACTIVE) in run.executor.executed[-3:]


# -- requests in the wrong phase -------------------------------------------------------
async def test_requests_that_do_not_fit_the_phase_are_refused_as_events() -> None:
    run = Run()
    await run.feed(RollbackRequested(t_ns=0, operator="alice"))
    await run.live()
    await run.deploy(OmsVersion.V1_4_2)

    refused = [(e.phase, e.previous) for e in run.events if e.reason is DeployReason.REQUEST_REFUSED]
    assert refused == [(Phase.IDLE, Phase.IDLE), (Phase.LIVE, Phase.LIVE)]
    assert run.deployer.version is OmsVersion.V1_4_3


def test_a_batch_done_for_another_batch_is_ignored() -> None:
    deployer = Deployer()
    step = deployer.handle(DeployRequested(t_ns=0, version=OmsVersion.V1_4_3))
    assert step.batch == 1

    assert deployer.handle(BatchDone(t_ns=1, batch=7)).events == ()
    assert deployer.phase is Phase.LAUNCHING


async def test_the_noop_executor_drives_a_deploy_to_live() -> None:
    deployer = Deployer()
    driver = DeployDriver(deployer, NoopExecutor(), lambda: 0)

    await driver.feed(DeployRequested(t_ns=0, version=OmsVersion.V1_4_2))
    await driver.feed(HealthReport(t_ns=10 * S, instance=GREEN, deep_ok=True))
    await driver.feed(blue_report(10 * S, "alive"))
    await driver.feed(VerifierReport(t_ns=10 * S, verification=verification(Verdict.CLEAN, 10 * S)))
    assert deployer.phase is Phase.VERIFYING

    await driver.feed(Tick(t_ns=10 * S))

    assert deployer.phase is Phase.LIVE


def test_a_config_with_one_instance_or_a_deadline_before_the_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="blue = green"):
        DeployConfig(blue="a", green="a")
    with pytest.raises(ValidationError, match="verification_deadline_s >= verification_window_s"):
        DeployConfig(verification_window_s=30, verification_deadline_s=10)


async def test_a_rollback_asked_while_verifying_aborts() -> None:
    run = Run()
    await run.deploy()

    await run.feed(RollbackRequested(t_ns=S, operator="alice"))

    assert run.phase is Phase.ABORTED
    assert run.events[2].reason is DeployReason.ROLLBACK_REQUESTED


def test_a_rollback_asked_while_a_batch_is_in_flight_is_refused() -> None:
    deployer = Deployer()
    deployer.handle(DeployRequested(t_ns=0, version=OmsVersion.V1_4_3))

    step = deployer.handle(RollbackRequested(t_ns=1, operator="alice"))

    assert (step.actions, step.events[0].reason) == ((), DeployReason.REQUEST_REFUSED)
    assert deployer.phase is Phase.LAUNCHING


async def test_blue_that_will_not_stop_still_completes_the_deploy_with_the_error() -> None:
    run = Run(fail=lambda a: "still running" if a == StopInstance(instance=BLUE) else None)
    await run.live()

    await run.feed(Tick(t_ns=100 * S))

    assert run.phase is Phase.COMPLETED
    assert (run.events[-1].failed_action, run.events[-1].error) == (ActionKind.STOP, "still running")
