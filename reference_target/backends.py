"""The local stack backend of each preset."""

from __future__ import annotations

from gameday.scenario.presets import StackPreset
from gameday.stack.errors import StackError
from gameday.stack.protocol import Stack
from gameday.stack.settings import StackSettings
from reference_target.blue_green import BlueGreenStack
from reference_target.dark_launch import DarkLaunchStack
from reference_target.deploying import DeployingStack
from reference_target.local import LocalStack

__all__ = ["DEPLOYING_STACKS", "stack_for"]

DEPLOYING_STACKS: dict[StackPreset, type[DeployingStack]] = {
    StackPreset.BLUE_GREEN: BlueGreenStack,
    StackPreset.ACTIVE_PASSIVE_DEPLOY: DarkLaunchStack,
}
"""The presets with a deployer, and the stack that runs each (every other preset: :class:`LocalStack`)."""


def stack_for(settings: StackSettings) -> Stack:
    """The stack of the settings' preset on the settings' backend (embedded: child processes)."""
    if settings.backend == "compose":
        from reference_target.compose import ComposeStack  # the Docker SDK only where it is used

        return ComposeStack(settings)
    if settings.backend != "embedded":
        raise StackError(f"the reference target has no backend {settings.backend!r} (embedded, compose)")
    stack = DEPLOYING_STACKS.get(settings.preset)
    return LocalStack(settings) if stack is None else stack(settings)
