"""The reference trading stack (``trading_stack`` and the ``mock_exchange`` venue) as a gameday target.

It registers itself under the ``gameday.targets`` entry-point group (pyproject.toml), the same door a
user's own target uses; ``gameday`` never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reference_target.target import TARGET, ReferenceTarget

__all__ = ["TARGET", "ReferenceTarget"]


def __getattr__(name: str) -> Any:
    """The target on first use: its pytest plugin is loaded at every pytest start without it."""
    if name in __all__:
        from reference_target import target

        return getattr(target, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
