"""Errors raised while starting, driving and stopping a stack (see the tree in gameday.errors)."""

from __future__ import annotations

from gameday.errors import StackError

__all__ = ["ServiceStartError", "StackError"]


class ServiceStartError(StackError):
    """A service did not become ready; carries the tail of its log."""

    def __init__(self, service: str, reason: str, log_tail: str) -> None:
        self.service = service
        self.reason = reason
        self.log_tail = log_tail
        detail = f"\n--- last lines of {service}'s log ---\n{log_tail}" if log_tail else ""
        super().__init__(f"service {service!r} failed to start: {reason}{detail}")
