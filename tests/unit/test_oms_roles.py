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


def test_a_dormant_green_is_launched_in_shadow_then_cut_over_then_parked_and_reactivated() -> None:
    machine = RoleMachine(Role.DORMANT)
    machine.shadow()
    assert machine.role is Role.SHADOW
    machine.activate(epoch=3)
    assert machine.park() is True
    assert machine.park() is False  # idempotent
    machine.activate(epoch=7)
    assert (machine.role, machine.epoch) == (Role.ACTIVE, 7)


@pytest.mark.parametrize(("start", "target"), [
    (Role.STANDBY, Role.PARKED), (Role.FENCED, Role.PARKED), (Role.ACTIVE, Role.SHADOW),
    (Role.PARKED, Role.SHADOW), (Role.STANDBY, Role.SHADOW), (Role.DORMANT, Role.PARKED),
])
def test_moves_a_deploy_never_makes_are_refused(start: Role, target: Role) -> None:
    machine = RoleMachine(start)
    assert not machine.can(target)
    with pytest.raises(RoleTransitionError):
        machine.park() if target is Role.PARKED else machine.shadow()
    assert machine.role is start
