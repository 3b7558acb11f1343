"""How long a new session takes to set up at the venue (seed 002: "Time to establish new exchange
sessions: 2-5 seconds (TLS handshake + FIX/WebSocket session establishment)").

A connection's first bytes (a FIX Logon, a WebSocket ``auth``) are read only once the session
setup time has passed since it connected; what arrives meanwhile waits, in order, bounded.
Sessions set up while the venue has taken no order yet are the day's start-of-day sessions,
established before trading: they are ready at once, so a cold start (venue, then every OMS
logging on) stays fast. Any session set up once trading has begun — a DR's promotion, a
reconnect, a green launched mid-day — pays the full time. A venue restarted on a ledger that
holds orders is mid-day already.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sized

__all__ = ["HeldBytes", "SessionSetup"]

MAX_HELD_BYTES = 1024 * 1024
"""what a connection may send before its session is set up; more closes it"""


class SessionSetup:
    """The setup time of a session connecting now: ``setup_s`` once the venue took an order, else 0."""

    def __init__(self, setup_s: float, orders: Sized) -> None:
        self._setup_s = setup_s
        self._orders = orders

    def delay_s(self) -> float:
        return self._setup_s if len(self._orders) > 0 else 0.0


class HeldBytes:
    """A connection's inbound bytes, held until its session is set up, then delivered in one piece.

    ``deliver`` gets what was held once ``delay_s`` has passed (nothing when nothing came);
    ``overflow`` is called once when more than :data:`MAX_HELD_BYTES` arrive meanwhile.
    """

    def __init__(self, delay_s: float, deliver: Callable[[bytes], None],
                 overflow: Callable[[], None]) -> None:
        self._deliver = deliver
        self._overflow = overflow
        self._held: bytearray | None = None
        self._timer: asyncio.TimerHandle | None = None
        if delay_s > 0:
            self._held = bytearray()
            self._timer = asyncio.get_running_loop().call_later(delay_s, self._set_up)

    @property
    def holding(self) -> bool:
        return self._held is not None

    def receive(self, data: bytes) -> None:
        """Hold ``data`` while the session is being set up, else deliver it at once."""
        if self._held is None:
            self._deliver(data)
            return
        if len(self._held) + len(data) > MAX_HELD_BYTES:
            self.cancel()
            self._overflow()
            return
        self._held += data

    def cancel(self) -> None:
        """The connection ended: nothing held is delivered."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._held = None

    def _set_up(self) -> None:
        held, self._held, self._timer = self._held, None, None
        if held:
            self._deliver(bytes(held))
