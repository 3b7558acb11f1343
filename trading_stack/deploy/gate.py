"""The cutover gate: what must hold on both sides before green may take blue's traffic (pure).

Green's side: a fresh verdict that is ``clean`` and a fresh probe in which green is deep-healthy.
Blue's side: a fresh probe in which blue answered, deep-healthy and still active, and recent
outputs from both instances (within the verifier's evidence window, its staleness bound). A dead
blue produces nothing, its shadow then has nothing to replay, and silence contradicts no verdict:
without these checks the deployer would cut over from an instance that cannot be parked. Defect
``deploy-ignores-blue-health`` leaves blue's side out (see :class:`CutoverGate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from trading_stack.deploy.timeline import Blocker, HealthReport, VerifierReport
from trading_stack.deploy.verifier import Color, Verdict
from trading_stack.roles import Role

__all__ = ["CutoverGate", "describe"]

NS_PER_S = 1_000_000_000

_VERDICT_BLOCKERS = {
    Verdict.STALE: Blocker.VERIFIER_STALE,
    Verdict.INSUFFICIENT: Blocker.VERIFIER_INSUFFICIENT,
    Verdict.DIVERGED: Blocker.VERIFIER_DIVERGED,
    Verdict.NO_EVIDENCE: Blocker.VERIFIER_NO_EVIDENCE,
}
_NO_EVIDENCE = {Color.BLUE: Blocker.BLUE_NO_EVIDENCE, Color.GREEN: Blocker.GREEN_NO_EVIDENCE}
_WORDS: Mapping[Blocker, str] = {
    Blocker.NO_VERDICT: "no verdict yet",
    Blocker.VERDICT_OUTDATED: "the last verdict is outdated",
    Blocker.VERIFIER_STALE: "green trails blue (stale)",
    Blocker.VERIFIER_INSUFFICIENT: "too few events compared",
    Blocker.VERIFIER_DIVERGED: "blue and green diverged",
    Blocker.VERIFIER_NO_EVIDENCE: "the verifier saw no event from either side",
    Blocker.NO_HEALTH: "no health report from green",
    Blocker.HEALTH_OUTDATED: "green's health report is outdated",
    Blocker.GREEN_UNHEALTHY: "green not deep-healthy",
    Blocker.BLUE_NO_HEALTH: "no health report from blue",
    Blocker.BLUE_HEALTH_OUTDATED: "blue's health report is outdated",
    Blocker.BLUE_NOT_ALIVE: "blue not alive",
    Blocker.BLUE_UNHEALTHY: "blue not deep-healthy",
    Blocker.BLUE_NOT_ACTIVE: "blue not active",
}


def describe(blockers: Iterable[Blocker], evidence_window_ns: int | None = None) -> str:
    """The blockers in words, e.g. ``blue not alive; no evidence from blue in the last 5 s``."""
    window = "" if evidence_window_ns is None else f" in the last {evidence_window_ns / NS_PER_S:g} s"
    words = {Blocker.BLUE_NO_EVIDENCE: f"no evidence from blue{window}",
             Blocker.GREEN_NO_EVIDENCE: f"no evidence from green{window}"}
    return "; ".join(words.get(blocker) or _WORDS[blocker] for blocker in blockers)


@dataclass(frozen=True)
class CutoverGate:
    """The blockers at one instant, from the latest reports (any of them may be missing).

    ``blue_side=False`` (defect ``deploy-ignores-blue-health``) checks green's side only.
    """

    max_age_ns: int
    blue_side: bool = True

    def _fresh(self, now_ns: int, t_ns: int) -> bool:
        return now_ns - t_ns <= self.max_age_ns

    def blockers(self, now_ns: int, verification: VerifierReport | None, green: HealthReport | None,
                 blue: HealthReport | None) -> tuple[Blocker, ...]:
        evidence = self.evidence_blockers(now_ns, verification) if self.blue_side else ()
        blue_side = self.blue_blockers(now_ns, blue) if self.blue_side else ()
        return (*self.verdict_blockers(now_ns, verification), *evidence, *self.green_blockers(now_ns, green),
                *blue_side)

    def verdict_blockers(self, now_ns: int, report: VerifierReport | None) -> tuple[Blocker, ...]:
        if report is None:
            return (Blocker.NO_VERDICT,)
        if not self._fresh(now_ns, report.t_ns):
            return (Blocker.VERDICT_OUTDATED,)
        verdict = report.verification.verdict
        return () if verdict is Verdict.CLEAN else (_VERDICT_BLOCKERS[verdict],)

    def evidence_blockers(self, now_ns: int, report: VerifierReport | None) -> tuple[Blocker, ...]:
        """Each side whose newest output is older than the verifier's evidence window."""
        if report is None or not self._fresh(now_ns, report.t_ns):
            return ()  # the verdict blocker already says so
        verification = report.verification
        return tuple(_NO_EVIDENCE[color] for color in Color if not verification.has_evidence(color, now_ns))

    def green_blockers(self, now_ns: int, report: HealthReport | None) -> tuple[Blocker, ...]:
        if report is None:
            return (Blocker.NO_HEALTH,)
        if not self._fresh(now_ns, report.t_ns):
            return (Blocker.HEALTH_OUTDATED,)
        return () if report.deep_ok else (Blocker.GREEN_UNHEALTHY,)

    def blue_blockers(self, now_ns: int, report: HealthReport | None) -> tuple[Blocker, ...]:
        if report is None:
            return (Blocker.BLUE_NO_HEALTH,)
        if not self._fresh(now_ns, report.t_ns):
            return (Blocker.BLUE_HEALTH_OUTDATED,)
        if not report.reachable:
            return (Blocker.BLUE_NOT_ALIVE,)
        found = [] if report.deep_ok else [Blocker.BLUE_UNHEALTHY]
        if report.role is not None and report.role is not Role.ACTIVE:
            found.append(Blocker.BLUE_NOT_ACTIVE)
        return tuple(found)

    def blue_fit(self, now_ns: int, report: HealthReport | None) -> bool:
        """Blue answered lately, deep-healthy and active: it can be parked, or keep the traffic."""
        return not self.blue_side or not self.blue_blockers(now_ns, report)
