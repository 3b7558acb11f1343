"""Heartbeat and TestRequest timing of one logged-on connection (FIX 4.4 session layer).

The venue sends a Heartbeat when it has sent nothing for HeartBtInt, a TestRequest after
1.2 x HeartBtInt without a message from the counterparty, and disconnects after 2.4 x.
"""

from __future__ import annotations

import itertools

from mock_exchange.fix import tags
from mock_exchange.fix.session import FixSession
from mock_exchange.fix.tags import MsgType

TEST_REQUEST_AFTER = 1.2  # x HeartBtInt of inbound silence
DISCONNECT_AFTER = 2.4  # x HeartBtInt of inbound silence


class Liveness:
    """When the counterparty was last heard from, and whether a TestRequest awaits its answer."""

    _test_request_ids = itertools.count(1)

    __slots__ = ("_test_request_pending", "last_received")

    def __init__(self, now: float) -> None:
        self.last_received = now
        self._test_request_pending = False

    def received(self, now: float) -> None:
        self.last_received = now
        self._test_request_pending = False

    def tick(self, session: FixSession, now: float) -> tuple[str | None, float]:
        """Send the Heartbeat or TestRequest due on ``session``.

        Returns why to disconnect (``None``: stay) and the seconds until the next check.
        """
        heartbeat = float(session.heartbeat_s)
        silence = now - self.last_received
        if silence >= DISCONNECT_AFTER * heartbeat:
            return f"no message for {silence:.1f}s (HeartBtInt {session.heartbeat_s})", 1.0
        if silence >= TEST_REQUEST_AFTER * heartbeat and not self._test_request_pending:
            test_request_id = b"TEST-%d" % next(self._test_request_ids)
            session.send(MsgType.TEST_REQUEST, [(tags.TEST_REQ_ID, test_request_id)])
            self._test_request_pending = True
        if now - session.last_sent >= heartbeat:
            session.send(MsgType.HEARTBEAT, [])
        silence_limit = DISCONNECT_AFTER if self._test_request_pending else TEST_REQUEST_AFTER
        next_check = min(self.last_received + silence_limit * heartbeat, session.last_sent + heartbeat)
        return None, max(0.01, next_check - now)
