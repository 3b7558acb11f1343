"""Repeating timeline faults: ``every`` with ``count`` or ``until``, as pure arithmetic on durations.

A fault that repeats starts at ``at``, ``at + every``, ``at + 2 every`` … — ``count`` times, or
while the start is before ``until`` — and each occurrence is healed ``for`` after its own start,
before the next one starts. The schedule (``gameday.faults.schedule``) turns each occurrence into
its own start and heal under a derived id (:func:`occurrence_id`); nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic_core import InitErrorDetails

from gameday.scenario.duration import Duration
from gameday.scenario.invalid import invalid

__all__ = ["MAX_OCCURRENCES", "OCCURRENCE_MARK", "Repeat", "occurrence_id"]

MAX_OCCURRENCES = 1000
"""The most occurrences one repeating fault may have (a typo such as ``every: 1ms`` is refused)."""
OCCURRENCE_MARK = "#"
"""Joins a fault's id and an occurrence's number; no fault id may contain it."""


def occurrence_id(base: str, number: int) -> str:
    """The id of the ``number``-th occurrence (from 1) of the fault ``base``: ``f1-pause#2``."""
    return f"{base}{OCCURRENCE_MARK}{number}"


def _problem(key: str, kind: str, message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(type=invalid(kind, message), loc=(key,), input=value)


@dataclass(frozen=True)
class Repeat:
    """The repeat keys of one fault, as written (any may be absent), and what they mean."""

    at: Duration
    every: Duration | None
    count: int | None
    until: Duration | None
    heal_after: Duration | None
    """the fault's ``for``; ``None``: it has none (healed at the final heal, or never)"""
    kind: str

    @property
    def repeats(self) -> bool:
        return self.every is not None

    @property
    def occurrences(self) -> int:
        """How many times the fault starts (1 for a fault that does not repeat)."""
        if self.every is None:
            return 1
        if self.count is not None:
            return self.count
        if self.until is None or self.until <= self.at:
            return 1
        return (self.until.ns - self.at.ns - 1) // self.every.ns + 1

    def starts(self) -> tuple[Duration, ...]:
        """The start of each occurrence, in order (only for a repeat without problems)."""
        step = self.every.ns if self.every is not None else 0
        return tuple(Duration(self.at.ns + number * step) for number in range(self.occurrences))

    @property
    def last_start(self) -> Duration:
        step = self.every.ns if self.every is not None else 0
        return Duration(self.at.ns + (self.occurrences - 1) * step)

    def problems(self) -> list[InitErrorDetails]:
        """What is wrong with the repeat keys, each at the key to change."""
        if self.every is None:
            return [_problem(key, "repeat_needs_every",
                             f"{key} bounds a repeating fault; expected every: <duration> beside it", value)
                    for key, value in (("count", self.count), ("until", self.until)) if value is not None]
        if self.heal_after is None:
            why = ("a kill has no heal (the process stays down), so it cannot repeat"
                   if self.kind == "kill" else
                   "a repeating fault needs for: each occurrence is healed before the next one starts")
            return [_problem("every", "repeat_needs_for", why, str(self.every))]
        if (self.count is None) == (self.until is None):
            given = "both" if self.count is not None else "neither"
            return [_problem("every", "repeat_bound",
                             f"expected exactly one of count (how many times) or until (when it stops), "
                             f"got {given}", str(self.every))]
        return self._bound_problems()

    def _bound_problems(self) -> list[InitErrorDetails]:
        assert self.every is not None
        assert self.heal_after is not None
        problems = []
        if self.every <= self.heal_after:
            problems.append(_problem(
                "every", "repeat_overlaps",
                f"expected every longer than for ({self.heal_after}) so that occurrences do not overlap, "
                f"got {self.every}", str(self.every)))
        if self.until is not None and self.until <= self.at:
            problems.append(_problem("until", "repeat_until", f"expected a time after at ({self.at}), "
                                     f"got {self.until}", str(self.until)))
        if self.occurrences > MAX_OCCURRENCES:
            key = "count" if self.count is not None else "until"
            problems.append(_problem(
                key, "repeat_too_many",
                f"expected at most {MAX_OCCURRENCES} occurrences, got {self.occurrences}",
                self.count if self.count is not None else str(self.until)))
        return problems

    def workload_problems(self, workload_end: Duration) -> list[InitErrorDetails]:
        """Every occurrence starts before the workload ends (``until`` is at most its end) and, when
        the fault has ``for``, is healed by then: no fault holds the run past its workload."""
        if self.repeats:
            problems = self._repeat_workload_problems(workload_end)
            if problems:
                return problems
        if self.heal_after is None or self.last_start >= workload_end:
            return []  # a start after the end is reported as such
        healed = Duration(self.last_start.ns + self.heal_after.ns)
        if healed <= workload_end:
            return []
        which = f"its last occurrence (at {self.last_start}) is" if self.repeats else "it is"
        longest = Duration(workload_end.ns - self.last_start.ns)
        return [_problem("for", "heal_after_workload",
                         f"expected the fault healed by the end of the workload ({workload_end}); {which} "
                         f"healed at {healed}: expected a for of at most {longest}", str(self.heal_after))]

    def _repeat_workload_problems(self, workload_end: Duration) -> list[InitErrorDetails]:
        if self.until is not None and self.until > workload_end:
            return [_problem("until", "repeat_after_workload",
                             f"expected a time no later than the end of the workload ({workload_end}), "
                             f"got {self.until}", str(self.until))]
        if self.count is not None and self.last_start >= workload_end:
            fits = (workload_end.ns - self.at.ns - 1) // self.every.ns + 1 if self.every else 0
            return [_problem("count", "repeat_after_workload",
                             f"occurrence {self.count} would start at {self.last_start}, not before the end "
                             f"of the workload ({workload_end}); expected a count of at most {max(fits, 0)}",
                             self.count)]
        return []
