"""OMS roles and the explicit transitions between them (pure)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Public role of an OMS instance (``GET /role``, ``oms.roles``)."""

    ACTIVE = "active"
    STANDBY = "standby"
    SHADOW = "shadow"
    FENCED = "fenced"


class RoleTransitionError(RuntimeError):
    """A transition the state machine does not allow."""


# Promotion (standby/fenced -> active) happens only after lease + logon + reconciliation;
# losing the lease (active, or a standby half way through its promotion -> fenced) happens
# at once. Nothing else moves a role.
ALLOWED_TRANSITIONS: dict[Role, frozenset[Role]] = {
    Role.STANDBY: frozenset({Role.ACTIVE, Role.FENCED}),
    Role.SHADOW: frozenset({Role.ACTIVE, Role.FENCED}),
    Role.ACTIVE: frozenset({Role.FENCED}),
    Role.FENCED: frozenset({Role.ACTIVE}),
}


class RoleMachine:
    """Holds the current role and epoch; refuses transitions not in ``ALLOWED_TRANSITIONS``."""

    def __init__(self, initial: Role = Role.STANDBY, epoch: int = 0) -> None:
        self._role = initial
        self._epoch = epoch

    @property
    def role(self) -> Role:
        return self._role

    @property
    def epoch(self) -> int:
        return self._epoch

    def can(self, target: Role) -> bool:
        return target in ALLOWED_TRANSITIONS[self._role]

    def activate(self, epoch: int) -> None:
        """Become active under lease ``epoch`` (after reconciliation)."""
        self._move(Role.ACTIVE)
        self._epoch = epoch

    def fence(self) -> bool:
        """Lose the lease: returns False when already fenced (idempotent)."""
        if self._role is Role.FENCED:
            return False
        self._move(Role.FENCED)
        return True

    def _move(self, target: Role) -> None:
        if not self.can(target):
            raise RoleTransitionError(f"{self._role} -> {target} not allowed")
        self._role = target
