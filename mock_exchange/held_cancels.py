"""Cancels a hanging cancel-failure fault keeps unanswered until it is healed or replaced.

When that happens each held cancel is either dropped (the fault said ``on_heal: drop``) or
handed back to the matching engine, which processes it against whatever fault is armed then
and answers through the cancel's ``on_release``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from mock_exchange.executions import CancelOutcome, OnCancelReleased

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HeldCancel:
    """A cancel request held unanswered, with everything needed to process it later."""

    orig_cl_ord_id: str
    order_id: str | None
    cancel_cl_ord_id: str
    requested_by: str
    on_release: OnCancelReleased
    dropped_on_heal: bool
    """the fault that held it says ``on_heal: drop``: discarded, never answered"""


class HeldCancels:
    """The cancels held so far, in the order they came."""

    def __init__(self) -> None:
        self._held: list[HeldCancel] = []

    def __bool__(self) -> bool:
        return bool(self._held)

    def hold(self, cancel: HeldCancel) -> None:
        self._held.append(cancel)

    def release(self, process: Callable[[HeldCancel], CancelOutcome | None]) -> None:
        """The hanging fault ended: drop or ``process`` each held cancel, answering those that get
        an outcome (``process`` may hold a cancel again: it waits for the next release)."""
        held, self._held = self._held, []
        dropped = [cancel for cancel in held if cancel.dropped_on_heal]
        if dropped:
            log.info("cancel-failure heal: dropping %d held cancel(s)", len(dropped))
        for cancel in held:
            if cancel.dropped_on_heal:
                continue
            outcome = process(cancel)
            if outcome is not None:
                cancel.on_release(outcome)
