"""The one exception hierarchy of gameday.

Every error a user can cause (a bad scenario file, a stack that does not come up) is a
:class:`GamedayError`; the CLI prints its message and exits, never a traceback::

    GamedayError                 base of everything gameday raises on purpose
    ├── ScenarioError            a scenario file cannot be read or validated; lists every problem
    │   └── TargetFileError      a target file cannot, or cannot carry out a scenario
    ├── CheckerError             a checker found the history malformed (graded ``unknown``)
    ├── StackError               a service of the stack did not start, or stopped, unexpectedly
    ├── TargetError              no target of that name is installed, or it does not load
    └── RunError                 a run could not be carried out (aborted, interrupted)

Beside the hierarchy, :class:`Terminated` (a ``BaseException``, like ``KeyboardInterrupt``): a run
cancelled by SIGTERM, its teardown done.

A checker never lets an exception escape into the run: :func:`gameday.checkers.observe`
turns any exception (a ``CheckerError`` or a bug) into an ``unknown`` observation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CheckerError",
    "GamedayError",
    "RunError",
    "ScenarioError",
    "ScenarioProblem",
    "StackError",
    "TargetFileError",
    "Terminated",
]


class GamedayError(Exception):
    """Base of every error gameday raises on purpose."""


@dataclass(frozen=True)
class ScenarioProblem:
    """One thing wrong with a scenario file, located in it.

    ``yaml_path`` is where the value lives in the document (``timeline[1].latency_ms``,
    ``expect["rto.failover"].max``); ``line`` is 1-based, ``None`` when unknown.
    """

    file: str
    line: int | None
    yaml_path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.yaml_path}: {self.message}" if self.yaml_path else f"{where}: {self.message}"


class ScenarioError(GamedayError):
    """A scenario file could not be loaded; ``problems`` lists everything found wrong."""

    kind = "scenario"

    def __init__(self, path: Path | str, problems: Sequence[ScenarioProblem]) -> None:
        self.path = str(path)
        self.problems: tuple[ScenarioProblem, ...] = tuple(problems)
        super().__init__(self._describe())

    def _describe(self) -> str:
        if len(self.problems) == 1:
            return f"invalid {self.kind} {self.problems[0]}"
        lines = [f"invalid {self.kind} {self.path}: {len(self.problems)} problems"]
        lines.extend(f"  {problem}" for problem in self.problems)
        return "\n".join(lines)


class TargetFileError(ScenarioError):
    """A target file could not be loaded, or it cannot carry out a scenario (each gap listed)."""

    kind = "target file"


class CheckerError(GamedayError):
    """A checker found evidence in the history it cannot interpret."""


class StackError(GamedayError):
    """A service of the stack failed to start, become ready, or stay up."""


class RunError(GamedayError):
    """A run could not be carried out."""


class Terminated(BaseException):
    """A run cancelled by SIGTERM (:func:`gameday.async_main.run_to_completion`), its teardown done."""
