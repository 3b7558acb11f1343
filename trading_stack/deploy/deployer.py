"""The deployer as a pure state machine: inputs in, timeline events and action batches out.

Blue-green: green is launched in shadow; after the verification window, the cutover waits
for the gate of :mod:`~trading_stack.deploy.gate` on both sides (a clean, fresh verdict, a fresh
deep-healthy green, a blue that answers deep-healthy and active, recent outputs from both), then
moves all traffic in one batch (see :func:`~trading_stack.deploy.plans.cutover_plan`). Blue stays
parked for the rollback window; a rollback (asked, or automatic when green's rejects or one of
the :mod:`~trading_stack.deploy.triggers` exceed their bound) restores blue's positions, then has
blue cancel every open order and flatten, before blue takes traffic. A divergence, or
no open gate by the deadline, aborts; with blue not fit the abort touches nothing (green stays in
shadow, blue as it is), and a cutover that fails before green was asked to take over resumes blue
instead of parking anyone. At most one batch is in flight; inputs that arrive
meanwhile are recorded. Decisions are taken on a :class:`Tick` (the deployer process ticks a few
times a second), except that green's numbers (rejects, answer times, fills, PnL) can trigger a
rollback as they are reported.
One deployment per machine.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from trading_stack.defects import Defect
from trading_stack.deploy import plans
from trading_stack.deploy.actions import ActionKind, DeployAction, InstanceRole, SetRole
from trading_stack.deploy.config import DeployConfig, DeployMode
from trading_stack.deploy.gate import CutoverGate, describe
from trading_stack.deploy.timeline import (
    TRIGGER_REASONS,
    BatchDone,
    Blocker,
    DeployEvent,
    DeployInput,
    DeployPhase,
    DeployReason,
    DeployRequested,
    FillReport,
    HealthReport,
    OrderOutcomes,
    PnlReport,
    RollbackRequested,
    Step,
    Tick,
    VerifierReport,
)
from trading_stack.deploy.triggers import TriggerReading, TriggerWatch
from trading_stack.deploy.verifier import Verdict
from trading_stack.deploy.versions import OmsVersion

__all__ = ["Deployer"]

NS_PER_S = 1_000_000_000
Phase = DeployPhase
Reason = DeployReason

# phase of the batch in flight -> (phase, reason) when it succeeds
_ON_SUCCESS = {
    Phase.CUTTING_OVER: (Phase.LIVE, Reason.CUTOVER_DONE),
    Phase.ROLLING_BACK: (Phase.ROLLED_BACK, Reason.ROLLBACK_DONE),
    Phase.COMPLETING: (Phase.COMPLETED, Reason.BLUE_STOPPED),
    Phase.ABORTING: (Phase.ABORTED, Reason.ABORTED),
}


@dataclass(frozen=True)
class _Detail:
    """The optional facts a timeline event carries."""

    blockers: tuple[Blocker, ...] = ()
    verdict: Verdict | None = None
    rejects: int | None = None
    trigger: TriggerReading | None = None
    failed_action: ActionKind | None = None
    error: str | None = None
    note: str | None = None


def _ns(seconds: float) -> int:
    return int(seconds * NS_PER_S)


class Deployer:
    def __init__(self, config: DeployConfig | None = None) -> None:
        self.config = config or DeployConfig()
        self.phase = Phase.IDLE
        self.version: OmsVersion | None = None
        self._batches = 0
        self._in_flight: int | None = None
        self._entered_ns = 0
        self._health: dict[str, HealthReport] = {}
        self._verification: VerifierReport | None = None
        self._rejects: deque[tuple[int, int]] = deque()
        self._watch = TriggerWatch(self.config.triggers)
        self._blockers: tuple[Blocker, ...] = ()
        self._plan: tuple[DeployAction, ...] = ()
        self._gate = CutoverGate(_ns(self.config.report_max_age_s),
                                 blue_side=not self.config.has(Defect.DEPLOY_IGNORES_BLUE_HEALTH))

    # -- inputs ------------------------------------------------------------------------
    def handle(self, event: DeployInput) -> Step:
        match event:
            case DeployRequested():
                return self._on_deploy(event)
            case BatchDone():
                return self._on_batch_done(event)
            case RollbackRequested():
                return self._on_rollback(event)
            case OrderOutcomes():
                return self._on_outcomes(event)
            case PnlReport() | FillReport():
                return self._on_green_numbers(event)
            case Tick():
                return self._advance(event.t_ns)
            case HealthReport():
                self._health[event.instance] = event
            case VerifierReport():
                self._verification = event
        return Step()

    def _on_deploy(self, event: DeployRequested) -> Step:
        if self.phase is not Phase.IDLE:
            return self._refuse(event.t_ns)
        self.version = event.version
        plan = plans.launch_plan(self.config, event.version)
        return self._move(event.t_ns, Phase.LAUNCHING, Reason.DEPLOY_REQUESTED, plan)

    def _on_rollback(self, event: RollbackRequested) -> Step:
        if self._in_flight is not None:
            return self._refuse(event.t_ns)
        if self.phase in (Phase.LIVE, Phase.CANARY):
            return self._move(event.t_ns, Phase.ROLLING_BACK, Reason.ROLLBACK_REQUESTED,
                              plans.rollback_plan(self.config))
        if self.phase is Phase.VERIFYING:
            return self._abort(event.t_ns, Reason.ROLLBACK_REQUESTED)
        if self.phase is Phase.SPLIT:
            return self._move(event.t_ns, Phase.ABORTING, Reason.ROLLBACK_REQUESTED,
                              plans.abort_plan(self.config))
        return self._refuse(event.t_ns)

    def _watching_green(self, instance: str) -> bool:
        """Green takes traffic and nothing is in flight: its numbers can trigger a rollback."""
        watching = self.phase in (Phase.LIVE, Phase.CANARY) and self._in_flight is None
        return watching and instance == self.config.green

    def _on_outcomes(self, event: OrderOutcomes) -> Step:
        if not self._watching_green(event.instance):
            return Step()
        self._watch.observe_latencies(event.t_ns, event.answer_ms)
        if event.rejected:
            self._rejects.append((event.t_ns, event.rejected))
        return self._auto_rollback(event.t_ns) or Step()

    def _on_green_numbers(self, event: PnlReport | FillReport) -> Step:
        if not self._watching_green(event.instance):
            return Step()
        if isinstance(event, PnlReport):
            self._watch.observe_pnl(event.pnl)
        else:
            self._watch.observe_fill(event.t_ns, event.symbol, event.signed_qty, event.price)
        return self._auto_rollback(event.t_ns) or Step()

    def _on_batch_done(self, event: BatchDone) -> Step:
        if event.batch != self._in_flight:
            return Step()
        self._in_flight = None
        if event.failure is not None:
            return self._on_batch_failed(event)
        if self.phase is Phase.LAUNCHING:
            after = Phase.CANARY if self.config.effective_mode is DeployMode.CANARY else Phase.VERIFYING
            return self._move(event.t_ns, after, Reason.LAUNCHED)
        if self.phase is Phase.SPLIT:
            self._entered_ns = event.t_ns  # both upstreams are live from now on
            return Step()
        phase, reason = _ON_SUCCESS[self.phase]
        return self._move(event.t_ns, phase, reason)

    def _on_batch_failed(self, event: BatchDone) -> Step:
        failure = event.failure
        assert failure is not None
        detail = _Detail(failed_action=failure.action.kind, error=failure.error)
        t_ns = event.t_ns
        if self.phase in (Phase.LAUNCHING, Phase.SPLIT):
            return self._move(t_ns, Phase.ABORTING, Reason.LAUNCH_FAILED if self.phase is Phase.LAUNCHING
                              else Reason.CUTOVER_FAILED, plans.abort_plan(self.config), detail)
        if self.phase is Phase.CUTTING_OVER:
            if self._green_untouched(failure.index):
                note = "cutover failed before green was asked to take over: resuming blue, parking nobody"
                resume = plans.resume_blue_plan(self.config)
                return self._move(t_ns, Phase.ABORTING, Reason.CUTOVER_FAILED, resume,
                                  _Detail(failed_action=detail.failed_action, error=detail.error, note=note))
            return self._move(t_ns, Phase.ROLLING_BACK, Reason.CUTOVER_FAILED,
                              plans.rollback_plan(self.config), detail)
        if self.phase is Phase.COMPLETING:
            return self._move(t_ns, Phase.COMPLETED, Reason.BLUE_STOPPED, (), detail)
        reason = Reason.ROLLBACK_FAILED if self.phase is Phase.ROLLING_BACK else Reason.ABORT_FAILED
        return self._move(t_ns, Phase.FAILED, reason, (), detail)

    # -- time-driven decisions -----------------------------------------------------------
    def _advance(self, now_ns: int) -> Step:
        if self._in_flight is not None:
            return Step()
        decide: dict[Phase, Callable[[int], Step]] = {
            Phase.VERIFYING: self._gate_cutover,
            Phase.SPLIT: self._finish_split,
            Phase.CANARY: self._watch_canary,
            Phase.LIVE: self._watch_live,
        }
        handler = decide.get(self.phase)
        return handler(now_ns) if handler is not None else Step()

    def _elapsed(self, now_ns: int, seconds: float) -> bool:
        return now_ns - self._entered_ns >= _ns(seconds)

    def blockers(self, now_ns: int) -> tuple[Blocker, ...]:
        """Why green may not take traffic at ``now_ns`` (empty: it may)."""
        return self._gate.blockers(now_ns, self._verification, self._health.get(self.config.green),
                                   self._health.get(self.config.blue))

    def blue_fit(self, now_ns: int) -> bool:
        """Blue answered lately, deep-healthy and active (always, with ``deploy-ignores-blue-health``)."""
        return self._gate.blue_fit(now_ns, self._health.get(self.config.blue))

    def _describe(self, blockers: tuple[Blocker, ...]) -> str:
        report = self._verification
        return describe(blockers, report.verification.evidence_window_ns if report is not None else None)

    def _green_untouched(self, failed_index: int) -> bool:
        """The atomic cutover failed before green was asked to become active (so it is still a shadow)."""
        if not self._gate.blue_side or self._plan != plans.cutover_plan(self.config):
            return False
        green_active = SetRole(instance=self.config.green, role=InstanceRole.ACTIVE)
        return green_active not in self._plan[: failed_index + 1]

    def _abort(self, now_ns: int, reason: Reason, detail: _Detail | None = None) -> Step:
        """Abort while green is a shadow; with blue not fit, touch nothing (green stays in shadow)."""
        detail = detail or _Detail()
        if self.blue_fit(now_ns):
            return self._move(now_ns, Phase.ABORTING, reason, plans.abort_plan(self.config), detail)
        note = (f"{reason.value}; {self._describe(self.blockers(now_ns))}: aborted without actions, "
                "green left in shadow and blue as it is")
        return self._move(now_ns, Phase.ABORTED, reason, (), _Detail(
            blockers=detail.blockers or self.blockers(now_ns), verdict=detail.verdict, note=note))

    def _gate_cutover(self, now_ns: int) -> Step:
        report = self._verification
        if report is not None and report.verification.verdict is Verdict.DIVERGED:
            return self._abort(now_ns, Reason.VERIFIER_DIVERGED,
                               _Detail(verdict=Verdict.DIVERGED, blockers=(Blocker.VERIFIER_DIVERGED,)))
        if not self._elapsed(now_ns, self.config.verification_window_s):
            return Step()
        blockers = self.blockers(now_ns)
        if not blockers:
            clean = _Detail(verdict=Verdict.CLEAN)
            if self.config.has(Defect.NON_ATOMIC_CUTOVER):
                return self._move(now_ns, Phase.SPLIT, Reason.SPLIT_STARTED, plans.split_plan(self.config),
                                  clean)
            return self._move(now_ns, Phase.CUTTING_OVER, Reason.CUTOVER_STARTED,
                              plans.cutover_plan(self.config), clean)
        if self._elapsed(now_ns, self.config.verification_deadline_s):
            return self._abort(now_ns, Reason.VERIFICATION_TIMED_OUT, _Detail(blockers=blockers))
        if blockers == self._blockers:
            return Step()
        self._blockers = blockers
        blocked = _Detail(blockers=blockers, note=f"cutover blocked: {self._describe(blockers)}")
        return self._move(now_ns, self.phase, Reason.CUTOVER_BLOCKED, (), blocked)

    def _finish_split(self, now_ns: int) -> Step:
        if not self._elapsed(now_ns, self.config.split_window_s):
            return Step()
        return self._move(now_ns, Phase.CUTTING_OVER, Reason.CUTOVER_STARTED,
                          plans.finish_split_plan(self.config))

    def recent_rejects(self, now_ns: int) -> int:
        horizon = now_ns - _ns(self.config.reject_window_s)
        while self._rejects and self._rejects[0][0] <= horizon:
            self._rejects.popleft()
        return sum(count for _, count in self._rejects)

    def _auto_rollback(self, now_ns: int) -> Step | None:
        """A rollback when green's rejects or a configured trigger exceed their bound (never with
        defect ``no-auto-rollback``)."""
        if self.config.has(Defect.NO_AUTO_ROLLBACK):
            return None
        rejects = self.recent_rejects(now_ns)
        if rejects > self.config.reject_limit:
            return self._move(now_ns, Phase.ROLLING_BACK, Reason.REJECTS_EXCEEDED,
                              plans.rollback_plan(self.config), _Detail(rejects=rejects))
        reading = self._watch.breach(now_ns)
        if reading is None:
            return None
        return self._move(now_ns, Phase.ROLLING_BACK, TRIGGER_REASONS[reading.trigger],
                          plans.rollback_plan(self.config), _Detail(trigger=reading, note=reading.describe()))

    def _watch_canary(self, now_ns: int) -> Step:
        rollback = self._auto_rollback(now_ns)
        if rollback is not None:
            return rollback
        if not self._elapsed(now_ns, self.config.canary_window_s):
            return Step()
        return self._move(now_ns, Phase.CUTTING_OVER, Reason.CANARY_WINDOW_ELAPSED,
                          plans.canary_promotion_plan(self.config))

    def _watch_live(self, now_ns: int) -> Step:
        rollback = self._auto_rollback(now_ns)
        if rollback is not None:
            return rollback
        if not self._elapsed(now_ns, self.config.rollback_window_s):
            return Step()
        return self._move(now_ns, Phase.COMPLETING, Reason.ROLLBACK_WINDOW_CLOSED,
                          plans.complete_plan(self.config))

    # -- outputs -------------------------------------------------------------------------
    def _refuse(self, t_ns: int) -> Step:
        return self._move(t_ns, self.phase, Reason.REQUEST_REFUSED)

    def _move(self, t_ns: int, phase: Phase, reason: Reason, actions: tuple[DeployAction, ...] = (),
              detail: _Detail | None = None) -> Step:
        previous, self.phase = self.phase, phase
        if phase is not previous:
            self._entered_ns = t_ns
            self._blockers = ()
            self._rejects.clear()
            self._watch.reset()
        batch = None
        if actions:
            self._batches += 1
            batch = self._in_flight = self._batches
            self._plan = actions
        detail = detail or _Detail()
        event = DeployEvent(
            t_ns=t_ns, phase=phase, previous=previous, reason=reason, version=self.version, batch=batch,
            blockers=detail.blockers, verdict=detail.verdict, rejects=detail.rejects, trigger=detail.trigger,
            failed_action=detail.failed_action, error=detail.error, note=detail.note,
        )
        return Step(events=(event,), batch=batch, actions=actions)
