"""Checkers: pure functions from a history to an observation, composed by name."""

from gameday.checkers.base import (
    Checker,
    ContextualChecker,
    GradingContext,
    NoopChecker,
    Observation,
    ScheduledFault,
    Specified,
    Unit,
    Window,
    WindowKind,
    observe,
)
from gameday.checkers.registry import DEFAULT_CHECKERS, CheckerRegistry, build_registry, default_checkers

__all__ = [
    "DEFAULT_CHECKERS",
    "Checker",
    "CheckerRegistry",
    "ContextualChecker",
    "GradingContext",
    "NoopChecker",
    "Observation",
    "ScheduledFault",
    "Specified",
    "Unit",
    "Window",
    "WindowKind",
    "build_registry",
    "default_checkers",
    "observe",
]
