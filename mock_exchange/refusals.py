"""Refused logons in the ledger, bounded in rate and size whatever a peer sends.

Each refused logon (a FIX Logon, a WebSocket ``auth``) is one ``logon_refused`` session line,
but at most :data:`RECORDED_PER_S` a second per peer (the remote address): the refusals beyond
are counted, not written, and the next line written for that peer says how many with
``suppressed``. The SenderCompID (or account) and the text are cut to a few dozen characters, so
a logon cannot make the ledger grow faster than the venue's own words.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from mock_exchange.ledger import Ledger
from mock_exchange.model import SessionEventKind

log = logging.getLogger(__name__)

RECORDED_PER_S = 5
MAX_COMP_ID_CHARS = 64
MAX_TEXT_CHARS = 200
MAX_PEERS = 1_024  # peers remembered at once; the oldest windows are forgotten first


def shortened(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}...({len(text)} chars)"


@dataclass(slots=True)
class _Window:
    started: float
    recorded: int = 0
    suppressed: int = 0


class RefusedLogons:
    """Writes refused logons to one venue's ledger (shared by its FIX and WebSocket sides)."""

    def __init__(
        self, ledger: Ledger, *, per_second: int = RECORDED_PER_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ledger = ledger
        self._per_second = per_second
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def record(self, sender_comp_id: str, text: str, *, peer: str = "") -> bool:
        """Write a ``logon_refused`` line, unless ``peer`` had its share this second; whether written."""
        window = self._window(peer)
        if window.recorded >= self._per_second:
            if not window.suppressed:
                log.warning("refused logons from %s: recording at most %d a second", peer or "?",
                            self._per_second)
            window.suppressed += 1
            return False
        window.recorded += 1
        suppressed, window.suppressed = window.suppressed, 0
        self._ledger.record_session(
            shortened(sender_comp_id, MAX_COMP_ID_CHARS),
            SessionEventKind.LOGON_REFUSED,
            t_ns=time.monotonic_ns(),
            text=shortened(text, MAX_TEXT_CHARS),
            extra={"peer": peer, "suppressed": suppressed} if suppressed else {"peer": peer},
        )
        return True

    def _window(self, peer: str) -> _Window:
        now = self._clock()
        window = self._windows.get(peer)
        if window is None:
            if len(self._windows) >= MAX_PEERS:
                self._forget_oldest()
            window = self._windows[peer] = _Window(now)
        elif now - window.started >= 1.0:
            window.started, window.recorded = now, 0
        return window

    def _forget_oldest(self) -> None:
        """Make room: drop the windows started longest ago (their suppressed counts go to the log)."""
        by_age = sorted(self._windows.items(), key=lambda item: item[1].started)
        for peer, window in by_age[: len(by_age) // 2]:
            if window.suppressed:
                log.warning("refused logons from %s: %d not recorded", peer or "?", window.suppressed)
            del self._windows[peer]
