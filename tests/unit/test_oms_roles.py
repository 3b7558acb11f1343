"""Role state machine: explicit transitions only."""

from __future__ import annotations

import pytest

from trading_stack.roles import Role, RoleMachine, RoleTransitionError


def test_standby_promotes_then_fences_then_promotes_again() -> None:
    machine = RoleMachine(Role.STANDBY)
    machine.activate(epoch=5)
    assert (machine.role, machine.epoch) == (Role.ACTIVE, 5)
    assert machine.fence() is True
    assert machine.role is Role.FENCED
    assert machine.fence() is False  # idempotent
    machine.activate(epoch=9)
    assert (machine.role, machine.epoch) == (Role.ACTIVE, 9)


def test_active_cannot_be_activated_again() -> None:
    machine = RoleMachine(Role.STANDBY)
    machine.activate(epoch=1)
    with pytest.raises(RoleTransitionError):
        machine.activate(epoch=2)
    assert machine.epoch == 1


def test_standby_mid_promotion_can_be_fenced() -> None:
    machine = RoleMachine(Role.STANDBY)
    assert machine.fence() is True
    assert machine.role is Role.FENCED
    assert not machine.can(Role.STANDBY)
