"""The reference trading stack (``trading_stack`` and the ``mock_exchange`` venue) as a gameday target.

It registers itself under the ``gameday.targets`` entry-point group (pyproject.toml), the same door a
user's own target uses; ``gameday`` never imports it.
"""

from __future__ import annotations

from reference_target.target import TARGET, ReferenceTarget

__all__ = ["TARGET", "ReferenceTarget"]
