"""FIX 4.4 initiator session: logon with backoff, heartbeats, TestRequest, seqnums, Logout.

The session knows nothing about orders: application messages go to ``on_app``; every
outgoing message first asks ``gate`` (the lease check) and is dropped when it says no.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import simplefix

from trading_stack import fix_codec
from trading_stack.clock import MonotonicNs, monotonic_ns
from trading_stack.fix_codec import CompIds, Field

log = logging.getLogger(__name__)

ADMIN_TYPES = frozenset({"0", "1", "2", "3", "4", "5", "A"})


class SessionState(StrEnum):
    DISCONNECTED = "disconnected"
    LOGGING_ON = "logging_on"
    LOGGED_ON = "logged_on"
    CLOSED = "closed"


class SessionDown(RuntimeError):
    """No logged-on session to send on."""


class SendRefused(RuntimeError):
    """The gate (lease) refused an outgoing message."""


class LogonFailed(RuntimeError):
    """The venue refused or never answered the Logon."""


@dataclass(frozen=True)
class SessionSettings:
    host: str
    port: int
    sender_comp_id: str
    target_comp_id: str
    heartbeat_s: int
    retry_initial_s: float
    retry_max_s: float
    retry: bool = True
    logon_timeout_s: float = 3.0


@dataclass(frozen=True)
class Backoff:
    """Doubling delays from ``initial_s`` capped at ``max_s`` (pure)."""

    initial_s: float
    max_s: float

    def delay(self, attempt: int) -> float:
        return float(min(self.max_s, self.initial_s * (2 ** min(attempt, 30))))


class FixSession:
    """One initiator session; ``run()`` keeps it logged on until ``close()``/``abort()``."""

    def __init__(
        self,
        settings: SessionSettings,
        on_app: Callable[[simplefix.FixMessage], None],
        on_state: Callable[[SessionState], None] = lambda _state: None,
        gate: Callable[[], bool] = lambda: True,
        clock: MonotonicNs = monotonic_ns,
    ) -> None:
        self._settings = settings
        self._ids = CompIds(settings.sender_comp_id, settings.target_comp_id)
        self._on_app = on_app
        self._on_state = on_state
        self._gate = gate
        self._clock = clock
        self._backoff = Backoff(settings.retry_initial_s, settings.retry_max_s)
        self._state = SessionState.DISCONNECTED
        self._writer: asyncio.StreamWriter | None = None
        self._out_seq = 1
        self._in_seq = 1
        self._last_sent_ns = 0
        self._last_recv_ns = 0
        self._stopping = False
        self._logon_event = asyncio.Event()
        self._logout_received = asyncio.Event()
        self._parser = simplefix.FixParser()
        self.logons = 0

    # -- state -------------------------------------------------------------------------
    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def logged_on(self) -> bool:
        return self._state is SessionState.LOGGED_ON

    async def wait_logged_on(self) -> None:
        await self._logon_event.wait()

    def _set_state(self, state: SessionState) -> None:
        if state is self._state:
            return
        self._state = state
        if state is SessionState.LOGGED_ON:
            self._logon_event.set()
        else:
            self._logon_event.clear()
        try:
            self._on_state(state)
        except Exception:
            log.exception("session state callback failed")

    # -- sending -----------------------------------------------------------------------
    def send_app(self, msg_type: str, body: Sequence[Field]) -> None:
        """Send an application message now; raises SessionDown / SendRefused."""
        if not self.logged_on or self._writer is None:
            raise SessionDown("FIX session not logged on")
        self._send(msg_type, body)

    def _send(self, msg_type: str, body: Sequence[Field], poss_dup: bool = False) -> None:
        if self._writer is None:
            raise SessionDown("not connected")
        if not self._gate():
            raise SendRefused(f"gate refused {msg_type}")
        data = fix_codec.encode(msg_type, self._out_seq, self._ids, body, poss_dup=poss_dup)
        self._out_seq += 1
        self._writer.write(data)
        self._last_sent_ns = self._clock()

    # -- lifecycle ---------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, log on (retrying with backoff unless disabled) and serve until stopped."""
        attempt = 0
        while not self._stopping:
            try:
                reader = await self._connect_and_logon()
            except (OSError, LogonFailed, TimeoutError, SendRefused) as err:
                self._drop()
                if not self._settings.retry or self._stopping:
                    log.error("logon failed, not retrying: %s", err)
                    break
                delay = self._backoff.delay(attempt)
                attempt += 1
                log.warning("logon failed (%s); retry in %.2fs", err, delay)
                await asyncio.sleep(delay)
                continue
            attempt = 0
            try:
                await self._serve(reader)
            except (OSError, asyncio.IncompleteReadError, SendRefused) as err:
                log.warning("FIX session lost: %s", err)
            finally:
                self._drop()
            if not self._settings.retry:
                break
        self._set_state(SessionState.CLOSED)

    async def _connect_and_logon(self) -> asyncio.StreamReader:
        settings = self._settings
        self._set_state(SessionState.LOGGING_ON)
        async with asyncio.timeout(settings.logon_timeout_s):
            reader, writer = await asyncio.open_connection(settings.host, settings.port)
        self._writer = writer
        self._out_seq = 1
        self._in_seq = 1
        self._logout_received.clear()
        self._send("A", fix_codec.logon_body(settings.heartbeat_s))
        await writer.drain()
        parser = simplefix.FixParser()
        async with asyncio.timeout(settings.logon_timeout_s):
            while True:
                msg = parser.get_message()
                if msg is None:
                    chunk = await reader.read(65536)
                    if not chunk:
                        raise LogonFailed("connection closed during logon")
                    parser.append_buffer(chunk)
                    continue
                kind = fix_codec.msg_type(msg)
                self._in_seq = fix_codec.seq_num(msg) + 1
                if kind == "A":
                    break
                if kind == "5":
                    raise LogonFailed(f"venue logged out: {fix_codec.text(msg, 58)}")
                log.warning("unexpected %s before Logon answer", kind)
        self._parser = parser
        self._last_recv_ns = self._clock()
        self.logons += 1
        self._set_state(SessionState.LOGGED_ON)
        log.info("FIX logged on as %s", settings.sender_comp_id)
        return reader

    async def _serve(self, reader: asyncio.StreamReader) -> None:
        heartbeat = asyncio.create_task(self._heartbeat_loop())
        try:
            parser = self._parser
            while True:
                msg = parser.get_message()
                while msg is not None:
                    if self._handle(msg):
                        return
                    msg = parser.get_message()
                chunk = await reader.read(65536)
                if not chunk:
                    log.warning("venue closed the FIX connection")
                    return
                self._last_recv_ns = self._clock()
                parser.append_buffer(chunk)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    def _handle(self, msg: simplefix.FixMessage) -> bool:
        """Handle one inbound message; True when the session is over (Logout)."""
        kind = fix_codec.msg_type(msg)
        seq = fix_codec.seq_num(msg)
        if kind == "4":  # SequenceReset (gap fill or reset)
            self._in_seq = fix_codec.integer(msg, 36, self._in_seq)
            return False
        if seq < self._in_seq and fix_codec.text(msg, 43) == "Y":
            return False  # a possible duplicate already seen
        if seq > self._in_seq:
            log.warning("inbound seq gap: expected %d got %d", self._in_seq, seq)
        self._in_seq = seq + 1
        if kind == "1":
            self._send("0", fix_codec.heartbeat_body(fix_codec.text(msg, 112)))
        elif kind == "2":
            begin = fix_codec.integer(msg, 7, self._out_seq)
            gap_fill = fix_codec.encode("4", begin, self._ids, fix_codec.gap_fill_body(self._out_seq), True)
            if self._writer is not None and self._gate():
                self._writer.write(gap_fill)
        elif kind == "5":
            self._logout_received.set()
            if not self._stopping:
                with contextlib.suppress(SessionDown, SendRefused):
                    self._send("5", [])
            return True
        elif kind == "3":
            log.warning("session Reject: %s", fix_codec.text(msg, 58))
        elif kind not in ADMIN_TYPES:
            try:
                self._on_app(msg)
            except Exception:
                log.exception("handling %s failed", kind)
        return False

    async def _heartbeat_loop(self) -> None:
        try:
            await self._heartbeats()
        except (SessionDown, SendRefused, OSError) as err:
            log.warning("heartbeat stopped: %s", err)
            self._drop()

    async def _heartbeats(self) -> None:
        interval_ns = self._settings.heartbeat_s * 1_000_000_000
        test_sent = False
        while True:
            await asyncio.sleep(min(1.0, self._settings.heartbeat_s / 4))
            now = self._clock()
            if now - self._last_sent_ns >= interval_ns:
                self._send("0", fix_codec.heartbeat_body())
            silent = now - self._last_recv_ns
            if silent >= 2 * interval_ns + interval_ns // 2:
                log.warning("venue silent for %.1fs; dropping the session", silent / 1e9)
                self._drop()
                return
            if silent >= interval_ns + interval_ns // 5 and not test_sent:
                self._send("1", [(112, f"TEST-{now}")])
                test_sent = True
            elif silent < interval_ns:
                test_sent = False

    def _drop(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        if self._state is not SessionState.CLOSED:
            self._set_state(SessionState.DISCONNECTED)

    async def close(self, timeout_s: float = 1.0) -> None:
        """Log out cleanly (when the gate allows) and stop."""
        self._stopping = True
        writer = self._writer
        if writer is not None and self.logged_on:
            with contextlib.suppress(SessionDown, SendRefused, OSError, TimeoutError):
                self._send("5", [(58, "shutdown")])
                async with asyncio.timeout(timeout_s):
                    await writer.drain()
                    await self._logout_received.wait()
        self._drop()
        self._set_state(SessionState.CLOSED)

    def abort(self) -> None:
        """Stop at once without sending anything (fencing)."""
        self._stopping = True
        self._drop()
        self._set_state(SessionState.CLOSED)
