"""The OMS's FIX session to the venue and the gates in front of it: what this instance's role lets
through (:class:`~trading_stack.roles.SendPolicy`), then the lease.
Part of :class:`~trading_stack.oms.Oms`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from trading_stack import fix_codec
from trading_stack.clock import MonotonicNs
from trading_stack.config import DEFAULT_LOGON_TIMEOUT_S, Defect, OmsConfig
from trading_stack.fix_client import FixSession, SessionSettings, SessionState
from trading_stack.gateway import OrderGateway
from trading_stack.oms_streams import OmsStreams
from trading_stack.roles import Role, RoleMachine, SendPolicy
from trading_stack.venue_halts import VenueHalts
from trading_stack.venue_sync import VenueSync

log = logging.getLogger(__name__)


class SendGate(Protocol):
    """The lease's say on what may go to the venue."""

    def may_send(self) -> bool:
        """Trusted now; fences the instance when not."""
        ...

    def trusted(self) -> bool:
        """Trusted now (no side effect)."""
        ...


class LinkHost(Protocol):
    """What the venue link needs of the OMS."""

    @property
    def roles(self) -> RoleMachine: ...

    @property
    def gateway(self) -> OrderGateway: ...

    @property
    def sync(self) -> VenueSync: ...

    @property
    def streams(self) -> OmsStreams: ...

    @property
    def guard(self) -> SendGate: ...

    @property
    def venue_halts(self) -> VenueHalts: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]: ...


class VenueLink:
    """At most one FIX session, made on the first log-on; ``policy`` says what passes it."""

    def __init__(self, config: OmsConfig, clock: MonotonicNs, host: LinkHost) -> None:
        self._config = config
        self._clock = clock
        self._host = host
        self._retry_logon = Defect.NO_LOGON_RETRY not in config.defects
        self.policy = SendPolicy.NONE if host.roles.role is Role.DORMANT else SendPolicy.LEASE
        self.session: FixSession | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the gates -------------------------------------------------------------------------
    def app_gate(self, msg_type: str) -> str | None:
        """Why an application message may not go out in this role (the lease is checked after)."""
        if self.policy is SendPolicy.NONE or (self.policy is SendPolicy.QUERIES and msg_type != "AF"):
            return f"{msg_type} not sent: role {self._host.roles.role.value} sends no orders"
        return None

    def _session_gate(self) -> bool:
        """The FIX session's gate: session traffic always flows while application messages are
        refused by the gateway; otherwise the lease decides."""
        return self.policy is not SendPolicy.LEASE or self._host.guard.may_send()

    def _on_app(self, msg: Any) -> None:
        if self.policy is SendPolicy.NONE:  # a dormant or shadow instance learns only from the stream
            return
        if fix_codec.msg_type(msg) == "f":  # SecurityStatus: a symbol halted, trading again, its band
            self._host.venue_halts.on_security_status(msg)
        else:
            self._host.gateway.on_app(msg)

    # -- the session -----------------------------------------------------------------------
    async def log_on(self) -> bool:
        """Log on (or wait for the session already there); False when it ended without a logon."""
        session = self.session
        if session is None:
            session = self.session = self._new_session()
            self._host.gateway.attach(session)
            self._task = self._host.spawn(session.run(), "fix-session")
        task = self._task
        assert task is not None
        logged_on = asyncio.create_task(session.wait_logged_on())
        try:
            await asyncio.wait({logged_on, task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            logged_on.cancel()
        return session.logged_on

    def _new_session(self) -> FixSession:
        config = self._config
        settings = SessionSettings(
            host=config.fix_host,
            port=config.fix_port,
            sender_comp_id=config.fix_sender_comp_id,
            target_comp_id=config.fix_target_comp_id,
            heartbeat_s=config.fix_heartbeat_s,
            retry_initial_s=config.logon_retry_initial_s,
            retry_max_s=config.logon_retry_max_s,
            retry=self._retry_logon,
            logon_timeout_s=(config.fix_logon_timeout_s
                             or max(DEFAULT_LOGON_TIMEOUT_S, config.order_ack_timeout_s)),
        )
        return FixSession(settings, self._on_app, self._on_session_state, self._session_gate, self._clock)

    def _on_session_state(self, state: SessionState) -> None:
        log.info("FIX session %s", state)
        if state is SessionState.LOGGED_ON:
            self._host.venue_halts.forget()  # the venue says what is halted right after the Logon
        session = self.session
        reconnected = session is not None and session.logons > 1
        if state is SessionState.LOGGED_ON and self._host.roles.role is Role.ACTIVE and reconnected:
            self._host.spawn(self._resync_after_reconnect(), "resync")

    async def _resync_after_reconnect(self) -> None:
        await self._host.sync.resync()
        self._host.streams.publish_positions()

    def abort(self) -> None:
        """Drop the session at once, without a logout (fenced: nothing more may go out)."""
        if self.session is not None:
            self.session.abort()
        self._host.gateway.attach(None)
        self.session = None

    async def close(self) -> None:
        """Log out (when this instance may still send) or drop the session; wait for it to end."""
        session, task = self.session, self._task
        self.session = self._task = None
        self._host.gateway.attach(None)
        if session is not None:
            if self.policy is not SendPolicy.LEASE or self._host.guard.trusted():
                await session.close()
            else:
                session.abort()
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                async with asyncio.timeout(2.0):
                    await task
