"""Targets: which system under test a run starts, and the vocabulary its scenarios may use.

The harness knows no OMS. A target registers itself under the ``gameday.targets`` entry-point
group (the reference stack does so in pyproject.toml, exactly as a user's target would) and tells
the harness the names of its known defects, the builds a deploy may name, how to validate the
stack sections only it understands (``stack.deploy``, ``stack.schedule``, ``stack.breaker``) and how
to start a :class:`~gameday.stack.protocol.Stack` for a run. A target whose OMS speaks another HTTP
dialect than the contract's gives its stack ``endpoints.oms_api = adapter`` (an
:class:`~gameday.oms_api.OmsApi`, :mod:`gameday.oms_api`): every probe, order and action then goes
through the adapter.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

from gameday.errors import GamedayError

if TYPE_CHECKING:  # the scenario loader needs a target's vocabulary before any stack exists
    from gameday.stack.protocol import Stack
    from gameday.stack.settings import StackSettings

__all__ = ["DEFAULT_TARGET", "ENTRY_POINT_GROUP", "Target", "TargetError", "forget_loaded_targets",
           "load_target", "register_target", "target_names", "target_of"]

ENTRY_POINT_GROUP = "gameday.targets"
DEFAULT_TARGET = "reference"
TARGET_SECTIONS = ("deploy", "schedule", "breaker", "market_data")
"""``stack`` keys whose schema belongs to the target (its deployer's settings, its market-data consumers)."""


class Target(Protocol):
    """What the harness asks of a system under test before it starts one."""

    name: str
    defects: Mapping[str, str]
    """Known defects the target can switch on, each with the incident it reproduces."""
    versions: tuple[str, ...]
    """Builds a deploy action or ``stack.oms.version`` may name; the first is the default."""

    def section(self, key: str, value: Any) -> Any:
        """``value`` of ``stack.<key>`` validated into the target's own model (raise ``ValueError`` or a
        pydantic ``ValidationError`` on a mistake; the loader reports it at its YAML path)."""
        ...

    def stack(self, settings: StackSettings) -> Stack:
        """A stack of ``settings.preset``, not started yet (``async with`` starts it)."""
        ...


class TargetError(GamedayError):
    """No target of that name is installed, or it does not load."""


_registered: dict[str, Target] = {}


def register_target(target: Target) -> None:
    """Make ``target`` loadable by its name in this process (tests; a target built at run time)."""
    _registered[target.name] = target
    forget_loaded_targets()


def forget_loaded_targets() -> None:
    """Load each target afresh next time (a test's target registered and gone)."""
    _load_target.cache_clear()


def target_names() -> list[str]:
    return sorted({*_registered, *(entry.name for entry in entry_points(group=ENTRY_POINT_GROUP))})


def load_target(name: str = DEFAULT_TARGET) -> Target:
    return _load_target(name)


@functools.cache
def _load_target(name: str) -> Target:
    """One look through the installed entry points per name, however the name was passed."""
    if name in _registered:
        return _registered[name]
    found = entry_points(group=ENTRY_POINT_GROUP, name=name)
    if not found:
        known = ", ".join(target_names()) or "none"
        raise TargetError(f"no target named {name!r} is installed (installed: {known}); a target registers "
                          f"itself under the {ENTRY_POINT_GROUP!r} entry-point group")
    entry = next(iter(found))
    try:
        target: Target = entry.load()
    except Exception as error:  # a broken plugin is the user's to fix: say which and why
        raise TargetError(f"target {name!r} ({entry.value}) does not load: {type(error).__name__}: {error}",
                          ) from error
    return target


def target_of(context: Any) -> Target:
    """The target a validation context names (``{"target": Target}``), else the default one."""
    if isinstance(context, dict) and context.get("target") is not None:
        chosen: Target = context["target"]
        return chosen
    return load_target()
