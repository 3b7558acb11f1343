"""Failover decisions from per-vantage probe results (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Decision(StrEnum):
    HEALTHY = "healthy"
    SUSPECT = "suspect"
    PROMOTE = "promote"
    PROMOTED = "promoted"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    failures: tuple[int, ...]
    reason: str


class FailoverDetector:
    """Counts consecutive failures per vantage point.

    Failover is confirmed when every vantage has failed ``confirmation_count`` times in a
    row (``any_vantage=True`` reproduces the single-vantage defect: one is enough). Once
    confirmed the decision is latched: ``promote`` until the DR acknowledged, then
    ``promoted`` (or ``suppressed`` when promotion is disabled).
    """

    def __init__(
        self,
        vantages: int,
        confirmation_count: int,
        *,
        any_vantage: bool = False,
        promotion_enabled: bool = True,
    ) -> None:
        if vantages < 1 or confirmation_count < 1:
            raise ValueError("need at least one vantage and a confirmation count >= 1")
        self._failures = [0] * vantages
        self._needed = confirmation_count
        self._any = any_vantage
        self._promotion_enabled = promotion_enabled
        self._latched: Decision | None = None

    @property
    def failures(self) -> tuple[int, ...]:
        return tuple(self._failures)

    @property
    def confirmed(self) -> bool:
        return self._latched is not None

    def promoted(self) -> None:
        """The DR accepted the promotion (202)."""
        if self._latched is Decision.PROMOTE:
            self._latched = Decision.PROMOTED

    def observe(self, healthy: Sequence[bool]) -> Verdict:
        if len(healthy) != len(self._failures):
            raise ValueError("one result per vantage expected")
        for index, ok in enumerate(healthy):
            self._failures[index] = 0 if ok else self._failures[index] + 1
        failures = tuple(self._failures)
        if self._latched is not None:
            return Verdict(self._latched, failures, "failover already confirmed")
        confirmed = [count >= self._needed for count in self._failures]
        if any(confirmed) if self._any else all(confirmed):
            self._latched = Decision.PROMOTE if self._promotion_enabled else Decision.SUPPRESSED
            scope = "a vantage" if self._any and not all(confirmed) else "all vantages"
            return Verdict(self._latched, failures, f"{scope} failed {self._needed} consecutive checks")
        if any(count > 0 for count in self._failures):
            return Verdict(Decision.SUSPECT, failures, "some checks failing")
        return Verdict(Decision.HEALTHY, failures, "all vantages healthy")


class LeaderlessWatch:
    """After a failover: promote again when no candidate has been active for a while.

    Each check passes every candidate's ``/role`` body (None: it did not answer). A check in
    which no candidate said ``active`` counts; one that did resets the count. After
    ``confirmation_count`` such checks in a row, the first candidate (in configured order) that
    says ``promotable`` is chosen and the count starts again, so a promotion gets as long to
    take effect as the first failover did. One that did not answer is not known to be active,
    but is never chosen either.
    """

    def __init__(self, candidates: int, confirmation_count: int) -> None:
        if candidates < 1 or confirmation_count < 1:
            raise ValueError("need at least one candidate and a confirmation count >= 1")
        self._candidates = candidates
        self._needed = confirmation_count
        self.checks_without_leader = 0

    def observe(self, roles: Sequence[Mapping[str, Any] | None]) -> int | None:
        if len(roles) != self._candidates:
            raise ValueError("one role per candidate expected")
        if any(role is not None and role.get("role") == "active" for role in roles):
            self.checks_without_leader = 0
            return None
        self.checks_without_leader += 1
        if self.checks_without_leader < self._needed:
            return None
        for index, role in enumerate(roles):
            if role is not None and role.get("promotable") is True:
                self.checks_without_leader = 0
                return index
        return None
