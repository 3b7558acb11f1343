"""WebSocket sessions: one per configured account, bound to at most one connection at a time.

An account is to the ledger what a FIX SenderCompID is: its orders carry it as
``sender_comp_id``, its logons and disconnects are session events, and its executions are
routed to the connection it is authenticated on (none: they are not sent, as over FIX).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from typing import Any

from mock_exchange.book import Execution, MatchingEngine
from mock_exchange.config import WsAccountConfig
from mock_exchange.fault_board import FaultBoard
from mock_exchange.ledger import Ledger
from mock_exchange.model import SessionEventKind
from mock_exchange.refusals import RefusedLogons
from mock_exchange.ws.connection import WsConnection
from mock_exchange.ws.frames import Frame, result_frame
from mock_exchange.ws.protocol import AuthRequest, ErrorCode, Op, RequestError


class WsSessions:
    """Accounts, who is authenticated where, and the ledger's view of it."""

    def __init__(
        self,
        accounts: Iterable[WsAccountConfig],
        engine: MatchingEngine,
        ledger: Ledger,
        *,
        refusals: RefusedLogons | None = None,
    ) -> None:
        """``refusals``: where refused ``auth`` requests go (the venue's, shared with FIX)."""
        self._accounts = {account.account: account for account in accounts}
        self._engine = engine
        self._ledger = ledger
        self._refusals = refusals if refusals is not None else RefusedLogons(ledger)
        self._live: dict[str, WsConnection] = {}

    @property
    def faults(self) -> FaultBoard:
        return self._engine.faults

    def owns(self, session: str) -> bool:
        return session in self._accounts

    def names(self) -> list[str]:
        return list(self._accounts)

    def authenticate(self, connection: WsConnection, request: AuthRequest) -> Frame:
        """Bind ``connection`` to the request's account, or raise why not."""
        if connection.account is not None:
            already = f"already authenticated as {connection.account_name}"
            raise RequestError(ErrorCode.ALREADY_AUTHENTICATED, already, request.id)
        refusal = self._refusal(request)
        if refusal is not None:
            code, text = refusal
            self._refusals.record(request.account, text, peer=connection.peer)
            raise RequestError(code, text, request.id)
        account = self._accounts[request.account]
        connection.account = account
        self._live[account.account] = connection
        self._record(account.account, SessionEventKind.LOGON, connection, None)
        return result_frame(Op.AUTH, request.id, account=account.account)

    def _refusal(self, request: AuthRequest) -> tuple[ErrorCode, str] | None:
        account = self._accounts.get(request.account)
        if account is None or not hmac.compare_digest(account.api_key.encode(), request.api_key.encode()):
            return ErrorCode.AUTH_FAILED, "unknown account or wrong API key"
        if account.account in self._live:
            return ErrorCode.SESSION_IN_USE, f"{account.account} is connected elsewhere"
        cooldown = self.faults.logon_refusal(account.account, account.firm)
        return (ErrorCode.RECONNECT_COOLDOWN, cooldown) if cooldown else None

    def end(self, connection: WsConnection, *, clean: bool, text: str) -> None:
        """The connection closed: record it, arm cooldowns, cancel on disconnect."""
        account = connection.account
        if account is None or self._live.get(account.account) is not connection:
            return
        del self._live[account.account]
        self._record(account.account, SessionEventKind.DISCONNECT, connection, text)
        self.faults.note_disconnect(account.account, account.firm, clean=clean)
        if account.cancel_on_disconnect:
            self._engine.cancel_orders_of_session(account.account, text=f"cancel on disconnect: {text}")

    def report(self, executions: Iterable[Execution]) -> None:
        """Send each execution to its account's connection, if it is connected."""
        for execution in executions:
            connection = self._live.get(execution.order.sender_comp_id)
            if connection is not None:
                connection.publish(execution)

    def deliver(self, execution: Execution) -> bool:
        """Send ``execution`` to its order's account if it is one's; whether it is."""
        if execution.order.sender_comp_id not in self._accounts:
            return False
        self.report([execution])
        return True

    def live_view(self, session: str) -> dict[str, Any] | None:
        """Sequence numbers of an account's live session (``None``: not connected here)."""
        connection = self._live.get(session)
        if connection is None:
            return None
        return {
            "connected": True,
            "logged_on": True,
            "in_seq": connection.requests,
            "out_seq": connection.seq,
        }

    def _record(
        self, account: str, kind: SessionEventKind, connection: WsConnection, text: str | None
    ) -> None:
        self._ledger.record_session(
            account,
            kind,
            t_ns=time.monotonic_ns(),
            in_seq=connection.requests,
            out_seq=connection.seq,
            text=text,
        )
