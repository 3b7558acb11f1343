"""The venue's matching loop: one price/matching step every interval, whatever a step raises.

A step that fails while exchange faults are armed disarms them (one error line naming them): an
armed fault the venue cannot match with must not fail every step until someone heals it. A step
that fails with none armed is a venue defect: its traceback is logged once, and while it keeps
failing one line at most every :data:`REPEAT_LOG_INTERVAL_S` counts the failures.

Matching can be stopped and started again (:attr:`MatchingLoop.running`, the admin API's
``/matching``): stopped, no step runs, so no price moves and no resting order fills.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from mock_exchange.fault_board import FaultBoard

log = logging.getLogger(__name__)

REPEAT_LOG_INTERVAL_S = 10.0


class MatchingLoop:
    """Calls ``step`` every ``interval_s`` seconds until cancelled (:meth:`run`)."""

    def __init__(
        self,
        step: Callable[[], None],
        faults: FaultBoard,
        interval_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._step = step
        self._faults = faults
        self._interval_s = interval_s
        self._clock = clock
        self._failing_since: float | None = None
        self._failures = 0
        self._last_report = 0.0
        self.running = True
        """Whether steps run; set False, the step already under way (none: steps are synchronous) was
        the last one."""

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            if self.running:
                self.run_once()

    def run_once(self) -> bool:
        """One step; whether it went through."""
        try:
            self._step()
        except Exception as error:
            self._failed(error)
            return False
        if self._failing_since is not None:
            log.warning("matching steps work again after %d failed", self._failures)
            self._failing_since = None
        return True

    def _failed(self, error: Exception) -> None:
        armed = [fault.kind.value for fault in self._faults.active()]
        if armed:
            log.error("matching step failed with exchange fault(s) %s armed: %r", ", ".join(armed), error)
            for kind in [fault.kind for fault in self._faults.active()]:
                self._faults.disarm(kind, f"a matching step failed while it was armed: {error!r}")
            return
        now = self._clock()
        if self._failing_since is None:
            log.exception("matching step failed")
            self._failing_since = self._last_report = now
            self._failures = 1
            return
        self._failures += 1
        if now - self._last_report >= REPEAT_LOG_INTERVAL_S:
            self._last_report = now
            log.error("matching steps keep failing: %d since %.0f s ago (%r)", self._failures,
                      now - self._failing_since, error)
