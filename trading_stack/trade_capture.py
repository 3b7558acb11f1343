"""Trade capture on the OMS side: the venue's drop copy of the firm's executions.

A TradeCaptureReportRequest (AD) is answered by one TradeCaptureReportRequestAck (AQ: accepted
with TotNumTradeReports(748), or refused with TradeRequestResult(749) and Text), then one
TradeCaptureReport (AE) per execution, the last with LastRptRequested(912)=Y. These are their
values (parsed by :mod:`trading_stack.fix_codec`) and the collector of one request's answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from trading_stack.models import Side

REQUEST_REJECTED = 2  # TradeRequestStatus(750)


class TradeCaptureRefused(RuntimeError):
    """The venue refused the request (AQ with a TradeRequestResult other than 0, or a
    BusinessMessageReject: it does not serve trade capture)."""


@dataclass(frozen=True)
class TradeCapture:
    """One execution as the venue's TradeCaptureReport tells it.

    ``order_id`` is the venue's OrderID(37), ``cl_ord_id`` the order's ClOrdID(11) at the time of
    the trade; ``owner`` the instance that entered the order (PartyID with PartyRole 11, else the
    TargetSubID); ``transact_time`` is UTC.
    """

    exec_id: str
    order_id: str
    cl_ord_id: str
    symbol: str
    side: Side
    last_qty: int
    last_px: float
    transact_time: datetime
    owner: str | None = None
    order_qty: int = 0
    last_mkt: str | None = None
    request_id: str | None = None
    total: int | None = None
    last: bool = False


@dataclass(frozen=True)
class TradeCaptureAck:
    request_id: str
    total: int | None
    result: int
    status: int
    text: str | None = None

    @property
    def accepted(self) -> bool:
        return self.result == 0 and self.status != REQUEST_REJECTED


@dataclass
class TradeCaptureCollector:
    """The answers to one request: ``acked`` once the venue took it, ``done`` with every report."""

    acked: asyncio.Future[None]
    done: asyncio.Future[list[TradeCapture]]
    reports: list[TradeCapture] = field(default_factory=list)
    total: int | None = None

    @classmethod
    def create(cls) -> TradeCaptureCollector:
        loop = asyncio.get_running_loop()
        return cls(loop.create_future(), loop.create_future())

    async def wait(self, ack_timeout_s: float, timeout_s: float) -> list[TradeCapture]:
        """Every report, once the venue took the request within ``ack_timeout_s`` and answered it
        within ``timeout_s`` (both from now); TimeoutError otherwise."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        try:
            async with asyncio.timeout(ack_timeout_s):
                await self.acked
        except TimeoutError:
            raise TimeoutError(f"the venue did not take the request within {ack_timeout_s}s") from None
        try:
            async with asyncio.timeout_at(deadline):
                return await self.done
        except TimeoutError:
            raise TimeoutError(f"{len(self.reports)} of {self.total} report(s) within {timeout_s}s") from None

    def on_ack(self, ack: TradeCaptureAck) -> None:
        if not ack.accepted:
            reason = ack.text or "no reason given"
            self.fail(TradeCaptureRefused(f"trade capture refused (749={ack.result}): {reason}"))
            return
        self.total = ack.total
        self._acked()
        if ack.total == 0:
            self._finish()

    def on_report(self, report: TradeCapture) -> None:
        self._acked()  # a venue may skip the ack
        self.reports.append(report)
        total = report.total if report.total is not None else self.total
        if report.last or (total is not None and len(self.reports) >= total):
            self._finish()

    def fail(self, error: Exception) -> None:
        for future in (self.acked, self.done):
            if not future.done():
                future.set_exception(error)
                future.exception()  # marked retrieved: the requester awaits one of the two at most

    def _acked(self) -> None:
        if not self.acked.done():
            self.acked.set_result(None)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(list(self.reports))
