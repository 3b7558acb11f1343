"""The results of one contract check as they come in: one per check and scope, first word wins."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import TypeVar

from gameday.contract.checks import CHECKS_BY_ID, CheckResult, Outcome

__all__ = ["Results", "guarded"]

T = TypeVar("T")


class Results:
    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], CheckResult] = {}

    def add(self, check_id: str, scope: str, outcome: Outcome, detail: str = "") -> None:
        if check_id not in CHECKS_BY_ID:
            raise KeyError(f"no contract check is named {check_id!r}")
        self._by_key.setdefault((check_id, scope), CheckResult(check_id, scope, outcome, detail))

    def passed(self, check_id: str, scope: str, detail: str = "") -> None:
        self.add(check_id, scope, Outcome.PASS, detail)

    def failed(self, check_id: str, scope: str, detail: str) -> None:
        self.add(check_id, scope, Outcome.FAIL, detail)

    def skipped(self, check_id: str, scope: str, why: str) -> None:
        self.add(check_id, scope, Outcome.SKIPPED, why)

    def judge(self, check_id: str, scope: str, problem: str | None, passed: str = "") -> bool:
        """Pass when there is no problem, else fail with it; whether it passed."""
        self.add(check_id, scope, Outcome.FAIL if problem else Outcome.PASS, problem or passed)
        return problem is None

    def skip_rest(self, check_ids: Iterable[str], scope: str, why: str) -> None:
        """Skip each of ``check_ids`` that has no result yet."""
        for check_id in check_ids:
            self.skipped(check_id, scope, why)

    def outcome(self, check_id: str, scope: str) -> Outcome | None:
        result = self._by_key.get((check_id, scope))
        return None if result is None else result.outcome

    def items(self) -> tuple[CheckResult, ...]:
        return tuple(self._by_key.values())


async def guarded(results: Results, check_ids: Iterable[str], scope: str, work: Awaitable[T]) -> T | None:
    """Run a probe; if it crashes (a bug in the probe, not an answer of the stack), each of its checks
    without a result fails with the crash, and ``None`` stands for what the probe would have returned."""
    try:
        return await work
    except Exception as error:
        for check_id in check_ids:
            results.failed(check_id, scope, f"the check itself crashed: {type(error).__name__}: {error}")
        return None
