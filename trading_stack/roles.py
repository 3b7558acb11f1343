"""OMS roles and the explicit transitions between them (pure)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Public role of an OMS instance (``GET /role``, ``oms.roles``)."""

    ACTIVE = "active"
    STANDBY = "standby"
    SHADOW = "shadow"
    FENCED = "fenced"
    DORMANT = "dormant"
    PARKED = "parked"


class Promotion(StrEnum):
    """How an instance becomes active: what it must learn from the venue first."""

    STARTUP = "startup"  # a start (or launch) as active: the venue's open orders are a predecessor's
    FAILOVER = "failover"  # a standby taking over: adopts the open orders it knows
    CUTOVER = "cutover"  # a shadow taking the traffic of the instance it shadowed
    RESUME = "resume"  # a parked instance back with its book as it is (restored first, if at all)


class SendPolicy(StrEnum):
    """What an instance may exchange with the venue at the application level."""

    NONE = "none"  # dormant, shadow: logged on at most; no application message in or out
    QUERIES = "queries"  # parked: mass status only; reports of its orders still booked
    LEASE = "lease"  # everything, while the lease is trusted


class RoleTransitionError(RuntimeError):
    """A transition the state machine does not allow."""


# Promotion (standby/shadow/parked/fenced -> active) happens only after lease + logon (+ reconciliation);
# losing the lease (active, or an instance half way through its promotion -> fenced) happens at once.
# A deploy launches a dormant instance (-> shadow or active) and parks one (active/shadow -> parked).
ALLOWED_TRANSITIONS: dict[Role, frozenset[Role]] = {
    Role.DORMANT: frozenset({Role.SHADOW, Role.ACTIVE, Role.FENCED}),
    Role.STANDBY: frozenset({Role.ACTIVE, Role.FENCED}),
    Role.SHADOW: frozenset({Role.ACTIVE, Role.PARKED, Role.FENCED}),
    Role.ACTIVE: frozenset({Role.FENCED, Role.PARKED}),
    Role.PARKED: frozenset({Role.ACTIVE, Role.FENCED}),
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

    def shadow(self) -> None:
        """A launched instance starts computing in the dark."""
        self._move(Role.SHADOW)

    def park(self) -> bool:
        """Step aside for a deploy (keeps the book); False when already parked."""
        if self._role is Role.PARKED:
            return False
        self._move(Role.PARKED)
        return True

    def _move(self, target: Role) -> None:
        if not self.can(target):
            raise RoleTransitionError(f"{self._role} -> {target} not allowed")
        self._role = target
