"""One WebSocket connection: its outbound frames in order, and the session it authenticated as.

Frames are queued synchronously (the matching engine reports from plain function calls) and
written by one task, so they leave in the order they were queued. A client that stops reading
is closed once :data:`MAX_PENDING_FRAMES` wait for it, instead of growing the venue's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from aiohttp import WSCloseCode, web

from mock_exchange.book import Execution
from mock_exchange.config import WsAccountConfig
from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import ReportFaultMode
from mock_exchange.model import ExecType
from mock_exchange.ws.frames import Frame, execution_frame

log = logging.getLogger(__name__)

MAX_PENDING_FRAMES = 10_000


class WsConnection:
    """Outbound queue and session state of one connection (``account`` is set by a good auth)."""

    def __init__(self, ws: web.WebSocketResponse, faults: FaultBoard, *, peer: str = "") -> None:
        self.ws = ws
        self.peer = peer  # the client's address
        self._faults = faults
        self.account: WsAccountConfig | None = None
        self.requests = 0
        self.seq = 0
        self._pending: asyncio.Queue[str] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_frames(), name="ws-writer")
        self._closing: asyncio.Task[bool] | None = None

    @property
    def account_name(self) -> str | None:
        return self.account.account if self.account is not None else None

    def send(self, frame: Frame) -> None:
        """Queue a frame; dropped once the connection is closing."""
        self._enqueue(json.dumps(frame, separators=(",", ":")))

    def publish(self, execution: Execution) -> None:
        """Queue an execution event with the session's next ``seq``, through the report faults."""
        event = execution_frame(execution)
        text = self._numbered(event)
        fill = execution.exec_type is ExecType.TRADE
        fault = self._faults.report_fault(self.account_name or "", fill=fill)
        if fault is None:
            self._enqueue(text)
        elif fault.mode is ReportFaultMode.DUPLICATE:
            self._enqueue(text)
            self._enqueue(self._numbered(event))
        elif fault.mode is ReportFaultMode.DELAY:
            asyncio.get_running_loop().call_later(fault.delay_s, self._enqueue, text)
        # DROP: the seq is spent, so the client sees the gap

    def _numbered(self, event: Frame) -> str:
        self.seq += 1
        return json.dumps({**event, "seq": self.seq}, separators=(",", ":"))

    async def close(self, code: int, message: str) -> None:
        """Flush what is queued, then close the socket with ``code``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pending.join(), timeout=1.0)
        await self.stop_writing()
        await self.ws.close(code=code, message=message.encode())

    async def stop_writing(self) -> None:
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    def _enqueue(self, text: str) -> None:
        if self.ws.closed or self._writer.done():
            return
        if self._pending.qsize() >= MAX_PENDING_FRAMES:
            log.warning("WebSocket client %s reads too slowly; closing it", self.account_name)
            self._writer.cancel()
            self._closing = asyncio.get_running_loop().create_task(
                self.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"slow consumer")
            )
            return
        self._pending.put_nowait(text)

    async def _write_frames(self) -> None:
        while True:
            text = await self._pending.get()
            try:
                await self.ws.send_str(text)
            except ConnectionError:
                log.info("WebSocket client %s went away while frames were queued", self.account_name)
                return
            finally:
                self._pending.task_done()
