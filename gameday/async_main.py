"""The CLI's edge into asyncio: a command's coroutine run to completion, SIGTERM cancelling it like
Ctrl-C does, so teardown always happens. Its own module so commands that never run a coroutine
(``gameday validate``) do not import asyncio."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from gameday.errors import Terminated

__all__ = ["Terminated", "run_to_completion"]

T = TypeVar("T")


def run_to_completion(coroutine: Coroutine[Any, Any, T]) -> T:
    """The coroutine's result; :class:`Terminated` when SIGTERM (or anything else) cancelled it."""
    try:
        return asyncio.run(_with_sigterm(coroutine))
    except asyncio.CancelledError:
        raise Terminated from None


async def _with_sigterm(coroutine: Coroutine[Any, Any, T]) -> T:
    task = asyncio.ensure_future(coroutine)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
