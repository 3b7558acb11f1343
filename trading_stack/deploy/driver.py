"""The one place that runs the deployer's batches: inputs in, actions executed, outcomes fed back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from trading_stack.clock import MonotonicNs
from trading_stack.deploy.actions import ActionOutcome, DeployAction, Executor
from trading_stack.deploy.deployer import Deployer
from trading_stack.deploy.timeline import ActionFailure, BatchDone, DeployEvent, DeployInput

__all__ = ["DeployDriver", "run_batch"]


async def run_batch(executor: Executor, actions: Sequence[DeployAction]) -> ActionFailure | None:
    """Execute ``actions`` in order; stop at the first that fails (an executor that raises fails it)."""
    for index, action in enumerate(actions):
        try:
            outcome = await executor.execute(action)
        except Exception as error:  # an executor bug must end the batch, not the deployer
            outcome = ActionOutcome.failed(f"{type(error).__name__}: {error}")
        if not outcome.ok:
            return ActionFailure(index=index, action=action, error=outcome.error or "failed")
    return None


class DeployDriver:
    """Feeds inputs to a :class:`Deployer` one at a time and runs each batch it asks for to the end."""

    def __init__(
        self,
        deployer: Deployer,
        executor: Executor,
        clock: MonotonicNs,
        on_event: Callable[[DeployEvent], None] = lambda event: None,
    ) -> None:
        self.deployer = deployer
        self._executor = executor
        self._clock = clock
        self._on_event = on_event
        self._lock = asyncio.Lock()

    async def feed(self, event: DeployInput) -> list[DeployEvent]:
        """Handle one input and every batch that follows from it; returns the timeline events."""
        async with self._lock:
            step = self.deployer.handle(event)
            emitted = self._emit(step.events)
            while step.actions:
                assert step.batch is not None
                failure = await run_batch(self._executor, step.actions)
                step = self.deployer.handle(BatchDone(t_ns=self._clock(), batch=step.batch, failure=failure))
                emitted.extend(self._emit(step.events))
            return emitted

    def _emit(self, events: Sequence[DeployEvent]) -> list[DeployEvent]:
        for event in events:
            self._on_event(event)
        return list(events)
