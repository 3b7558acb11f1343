"""The one place the harness waits for an instant of the monotonic clock (history's clock)."""

from __future__ import annotations

import asyncio
import time


async def sleep_until(t_ns: int) -> None:
    """Return at ``t_ns`` of ``time.monotonic_ns()`` (at once if it has passed)."""
    delay = (t_ns - time.monotonic_ns()) / 1e9
    if delay > 0:
        await asyncio.sleep(delay)
