"""The one protocol the runner talks to, whatever starts the stack (child processes, compose, a
stack already running)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Protocol, Self

from gameday.faults.toxiproxy_client import ToxiproxyClient
from gameday.scenario.faults import ExchangeFaultKind
from gameday.stack.settings import StackEndpoints, StackSettings

__all__ = ["NatsObserver", "Stack"]

NatsObserver = Callable[[str], AbstractAsyncContextManager[object]]
"""Given the NATS URL, what to enter once NATS is ready (e.g. the history's recorder)."""


class Stack(Protocol):
    """A system under test for one run: ``async with stack:`` starts it and waits until it trades;
    leaving the block stops and removes everything it started, whatever happened."""

    settings: StackSettings
    endpoints: StackEndpoints
    toxiproxy: ToxiproxyClient | None
    started_in_s: float | None

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...

    def observe_nats(self, observer: NatsObserver) -> None:
        """Enter ``observer(nats_url)`` once NATS is ready and before the SUT publishes anything."""
        ...

    async def signal(self, service: str, sig: signal.Signals) -> None: ...

    async def exchange_fault(self, kind: ExchangeFaultKind, params: dict[str, Any]) -> dict[str, Any]: ...

    async def heal_exchange_fault(self, kind: ExchangeFaultKind) -> None: ...

    def describe(self) -> dict[str, Any]:
        """What was started, as JSON-ready data for the run's start record."""
        ...
