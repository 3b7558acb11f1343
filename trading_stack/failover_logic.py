"""Failover decisions from per-vantage probe results (pure: no I/O, no clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


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
