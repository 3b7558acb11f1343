"""The stack's NATS hook: an observer (the history's recorder) is entered once NATS is ready, before
any OMS or daemon starts, and exited before any process is stopped, also when start-up fails."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackSettings
from reference_target.local import LocalStack


class _ScriptedStack(LocalStack):
    """The real lifecycle (exit stack, registry) around a scripted start-up instead of processes."""

    def __init__(self, settings: StackSettings, events: list[str], *, fail_after_nats: bool = False) -> None:
        super().__init__(settings)
        self.events = events
        self._fail_after_nats = fail_after_nats

    async def _start(self) -> None:
        self.events.append("nats ready")
        self.endpoints.nats = "nats://127.0.0.1:4222"
        await self._nats_ready()
        if self._fail_after_nats:
            raise RuntimeError("the OMS did not start")
        self.events.append("oms and daemons started")

    async def _stop_all(self) -> None:
        self.events.append("processes stopped")


def _observer(events: list[str]) -> Callable[[str], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def observe(url: str) -> AsyncIterator[None]:
        events.append(f"recording {url}")
        try:
            yield
        finally:
            events.append("recording stopped")

    return observe


def _settings(tmp_path: Path) -> StackSettings:
    return StackSettings(run_dir=RunDir(tmp_path, "s"), seed=1)


async def test_the_observer_starts_before_the_oms_and_stops_before_the_processes(tmp_path: Path) -> None:
    events: list[str] = []
    stack = _ScriptedStack(_settings(tmp_path), events)
    stack.observe_nats(_observer(events))

    async with stack:
        events.append("run")

    assert events == ["nats ready", "recording nats://127.0.0.1:4222", "oms and daemons started", "run",
                      "recording stopped", "processes stopped"]


async def test_the_observer_is_stopped_when_start_up_fails_after_nats(tmp_path: Path) -> None:
    events: list[str] = []
    stack = _ScriptedStack(_settings(tmp_path), events, fail_after_nats=True)
    stack.observe_nats(_observer(events))

    with pytest.raises(RuntimeError, match="the OMS did not start"):
        async with stack:
            events.append("run")

    assert events == ["nats ready", "recording nats://127.0.0.1:4222", "recording stopped",
                      "processes stopped"]
