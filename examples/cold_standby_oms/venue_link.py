"""The OMS's one connection to the venue's WebSocket JSON API, kept up for the life of the process.

``run`` connects, authenticates, reads frames and, when the connection ends for any reason,
connects again after a backoff (0.1 s doubling to 2 s, back to 0.1 s after a good ``auth``).
Requests carry an ``id``; the reader hands each answer to the request waiting for it, and each
execution event to the listener, checking that ``seq`` grows by one (a gap: events were lost).

Errors, drawn as a tree::

    Exception
    ├── VenueUnavailableError   not authenticated now: the request was not sent
    ├── NoAnswerError           sent (or maybe sent), no answer: the outcome is unknown
    └── VenueError              the venue answered with an error frame (``code``, ``message``)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from .venue_frames import Frame

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024


class VenueUnavailableError(Exception):
    """There is no authenticated session to the venue right now; nothing was sent."""


class NoAnswerError(Exception):
    """A request went out (or may have) and no answer came: its outcome is unknown."""


class VenueError(Exception):
    """The venue refused a request with an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class VenueListener(Protocol):
    """Who hears what the venue pushes (the OMS desk)."""

    def on_execution(self, frame: Frame) -> None: ...

    def on_gap(self, expected: int, received: int) -> None: ...

    async def on_session(self, first: bool) -> None: ...


@dataclass(frozen=True)
class VenueSettings:
    url: str
    account: str
    api_key: str
    request_timeout_s: float = 5.0
    auth_timeout_s: float = 10.0
    """a session set up mid-day takes the venue a while (seed 002: 2-5 s)"""
    connect_timeout_s: float = 5.0
    heartbeat_s: float = 5.0
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 2.0


class Backoff:
    """Delays between connection attempts: doubling up to a cap, reset by a success."""

    def __init__(self, initial_s: float, max_s: float) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self._next_s = initial_s

    def next_delay(self) -> float:
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self._max_s)
        return delay

    def reset(self) -> None:
        self._next_s = self._initial_s


class VenueLink:
    """One account's session with the venue (``run`` once, ``close`` to end it cleanly)."""

    def __init__(self, settings: VenueSettings) -> None:
        self._settings = settings
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._authenticated = False
        self._pending: dict[int, asyncio.Future[Frame]] = {}
        self._ids = itertools.count(1)
        self._last_seq = 0
        self.sessions = 0  # successful authentications so far
        self._closing = False
        self._session_tasks: set[asyncio.Task[None]] = set()

    @property
    def authenticated(self) -> bool:
        return self._authenticated and self._ws is not None and not self._ws.closed

    async def request(self, op: str, **fields: Any) -> Frame:
        """Send a request on the authenticated session; its ``result`` frame, or one of the errors."""
        ws = self._ws
        if ws is None or not self.authenticated:
            raise VenueUnavailableError("not connected to the venue")
        return await self._call(ws, op, fields)

    async def run(self, listener: VenueListener) -> None:
        """Stay connected until cancelled or closed; never raises for the venue's sake."""
        backoff = Backoff(self._settings.backoff_initial_s, self._settings.backoff_max_s)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._settings.connect_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not self._closing:
                try:
                    await self._connect_once(http, listener, backoff)
                except (aiohttp.ClientError, OSError, TimeoutError, NoAnswerError, VenueError) as error:
                    log.warning("venue connection: %s", error or type(error).__name__)
                except Exception:  # whatever the venue does, the OMS keeps trying
                    log.exception("venue connection failed unexpectedly")
                if not self._closing:
                    delay = backoff.next_delay()
                    log.info("reconnecting to the venue in %.1f s", delay)
                    await asyncio.sleep(delay)

    async def close(self) -> None:
        """End the session with a clean close frame (1000) and stop reconnecting."""
        self._closing = True
        for task in list(self._session_tasks):
            task.cancel()
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                await asyncio.wait_for(ws.close(), timeout=2.0)

    async def _connect_once(
        self, http: aiohttp.ClientSession, listener: VenueListener, backoff: Backoff
    ) -> None:
        async with asyncio.timeout(self._settings.connect_timeout_s):
            ws = await http.ws_connect(
                self._settings.url, heartbeat=self._settings.heartbeat_s, max_msg_size=MAX_FRAME_BYTES
            )
        self._ws, self._last_seq = ws, 0
        reader = asyncio.create_task(self._read(ws, listener), name="venue-reader")
        try:
            answer = await self._call(
                ws, "auth", {"account": self._settings.account, "api_key": self._settings.api_key},
                timeout_s=max(self._settings.auth_timeout_s, self._settings.request_timeout_s),
            )
            self._authenticated = True
            self.sessions += 1
            backoff.reset()
            log.info("authenticated at the venue as %s (session %d)", answer.get("account"), self.sessions)
            self._start_session_task(listener.on_session(self.sessions == 1))
            await reader
        finally:
            self._authenticated = False
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self._fail_pending("the connection to the venue was lost")
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                await asyncio.wait_for(ws.close(), timeout=2.0)
            self._ws = None

    def _start_session_task(self, work: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work, name="venue-session-start")
        self._session_tasks.add(task)
        task.add_done_callback(self._session_tasks.discard)

    async def _call(self, ws: aiohttp.ClientWebSocketResponse, op: str, fields: dict[str, Any],
                    timeout_s: float | None = None) -> Frame:
        wait_s = self._settings.request_timeout_s if timeout_s is None else timeout_s
        request_id = next(self._ids)
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            try:
                await ws.send_str(json.dumps({"op": op, "id": request_id, **fields}))
            except (ConnectionError, aiohttp.ClientError, RuntimeError) as error:
                raise NoAnswerError(f"{op}: could not be sent ({error})") from None
            async with asyncio.timeout(wait_s):
                frame = await future
        except TimeoutError:
            raise NoAnswerError(f"{op}: no answer within {wait_s:g} s") from None
        finally:
            self._pending.pop(request_id, None)
        if frame.get("type") == "error":
            raise VenueError(str(frame.get("code")), str(frame.get("message")))
        return frame

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, listener: VenueListener) -> None:
        try:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._on_text(message.data, listener)
                elif message.type is aiohttp.WSMsgType.ERROR:
                    log.warning("venue connection error: %s", ws.exception())
                    break
        finally:
            self._authenticated = False
            self._fail_pending("the connection to the venue was lost")
        log.log(
            logging.INFO if self._closing else logging.WARNING,
            "venue connection closed (code %s)",
            ws.close_code,
        )

    def _on_text(self, text: str, listener: VenueListener) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            log.warning("venue sent a frame that is not JSON: %.200s", text)
            return
        if not isinstance(frame, dict):
            log.warning("venue sent a frame that is not an object: %.200s", text)
            return
        kind = frame.get("type")
        if kind in ("result", "error"):
            self._answer(frame)
        elif kind == "execution":
            self._check_seq(frame.get("seq"), listener)
            try:
                listener.on_execution(frame)
            except Exception:  # one bad event must not end the session
                log.exception("could not handle an execution event: %.300s", text)
        else:
            log.warning("venue sent a frame of unknown type: %.200s", text)

    def _answer(self, frame: Frame) -> None:
        request_id = frame.get("id")
        future = self._pending.get(request_id) if isinstance(request_id, int) else None
        if future is None:
            log.warning("venue answer nobody waits for (late, or not ours): %.300s", json.dumps(frame))
        elif not future.done():
            future.set_result(frame)

    def _check_seq(self, seq: Any, listener: VenueListener) -> None:
        if not isinstance(seq, int) or isinstance(seq, bool):
            return
        expected = self._last_seq + 1
        self._last_seq = max(self._last_seq, seq)
        if seq > expected:
            try:
                listener.on_gap(expected, seq)
            except Exception:
                log.exception("could not handle a sequence gap")

    def _fail_pending(self, reason: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NoAnswerError(reason))
        self._pending.clear()
