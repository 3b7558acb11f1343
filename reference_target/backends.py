"""The local stack backend of each preset."""

from __future__ import annotations

from gameday.scenario.presets import StackPreset
from reference_target.blue_green import BlueGreenStack
from reference_target.dark_launch import DarkLaunchStack
from reference_target.deploying import DeployingStack
from reference_target.local import LocalStack, StackSettings

__all__ = ["DEPLOYING_STACKS", "stack_for"]

DEPLOYING_STACKS: dict[StackPreset, type[DeployingStack]] = {
    StackPreset.BLUE_GREEN: BlueGreenStack,
    StackPreset.ACTIVE_PASSIVE_DEPLOY: DarkLaunchStack,
}
"""The presets with a deployer, and the stack that runs each (every other preset: :class:`LocalStack`)."""


def stack_for(settings: StackSettings) -> LocalStack:
    """The local stack of the settings' preset."""
    stack = DEPLOYING_STACKS.get(settings.preset)
    return LocalStack(settings) if stack is None else stack(settings)
