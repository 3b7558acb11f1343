"""FIX 4.4 messages of the §2 dialect, encoded and parsed with simplefix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import simplefix

from trading_stack.models import (
    CancelReject,
    ExecType,
    ExecutionReport,
    OrderStatus,
    OrdType,
    Side,
    TimeInForce,
)
from trading_stack.trade_capture import TradeCapture, TradeCaptureAck

BEGIN_STRING = "FIX.4.4"
SOH = b"\x01"

Field = tuple[int, str]

ORD_STATUS = {
    "0": OrderStatus.NEW,
    "1": OrderStatus.PARTIALLY_FILLED,
    "2": OrderStatus.FILLED,
    "4": OrderStatus.CANCELED,
    "8": OrderStatus.REJECTED,
    "C": OrderStatus.CANCELED,  # Expired (a DAY order at the close): done, booked as canceled
}
SIDE_CODE = {Side.BUY: "1", Side.SELL: "2"}
SIDE_FROM_CODE = {"1": Side.BUY, "2": Side.SELL}
ORD_TYPE_CODE = {OrdType.MARKET: "1", OrdType.LIMIT: "2"}
TIF_CODE = {TimeInForce.DAY: "0", TimeInForce.GTC: "1", TimeInForce.IOC: "3"}
EXEC_TYPES = {e.value: e for e in ExecType} | {"C": ExecType.CANCELED}  # C = Expired


@dataclass(frozen=True)
class CompIds:
    sender: str
    target: str


def encode(msg_type: str, seq: int, ids: CompIds, body: Sequence[Field], poss_dup: bool = False) -> bytes:
    msg = simplefix.FixMessage()
    msg.append_pair(8, BEGIN_STRING, header=True)
    msg.append_pair(35, msg_type, header=True)
    msg.append_pair(49, ids.sender, header=True)
    msg.append_pair(56, ids.target, header=True)
    msg.append_pair(34, seq, header=True)
    if poss_dup:
        msg.append_pair(43, "Y", header=True)
    msg.append_utc_timestamp(52, precision=3, header=True)
    for tag, value in body:
        msg.append_pair(tag, value)
    data: bytes = msg.encode()
    return data


def text(msg: simplefix.FixMessage, tag: int) -> str | None:
    raw = msg.get(tag)
    return None if raw is None else bytes(raw).decode("utf-8", "replace")


def integer(msg: simplefix.FixMessage, tag: int, default: int = 0) -> int:
    raw = text(msg, tag)
    if raw is None or raw == "":
        return default
    try:
        return int(float(raw))
    except ValueError:
        return default


def number(msg: simplefix.FixMessage, tag: int) -> float | None:
    raw = text(msg, tag)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def msg_type(msg: simplefix.FixMessage) -> str:
    return text(msg, 35) or ""


def seq_num(msg: simplefix.FixMessage) -> int:
    return integer(msg, 34)


# -- session-level bodies ---------------------------------------------------------------
def logon_body(heartbeat_s: int) -> list[Field]:
    return [(98, "0"), (108, str(heartbeat_s)), (141, "Y")]


def heartbeat_body(test_req_id: str | None = None) -> list[Field]:
    return [] if test_req_id is None else [(112, test_req_id)]


def gap_fill_body(new_seq: int) -> list[Field]:
    return [(123, "Y"), (36, str(new_seq))]


# -- application bodies -----------------------------------------------------------------
def new_order_body(
    *,
    sub_id: str,
    cl_ord_id: str,
    symbol: str,
    side: Side,
    qty: int,
    ord_type: OrdType,
    price: float | None,
    tif: TimeInForce,
    transact_time: str,
) -> list[Field]:
    body: list[Field] = [
        (50, sub_id),
        (11, cl_ord_id),
        (55, symbol),
        (54, SIDE_CODE[side]),
        (38, str(qty)),
        (40, ORD_TYPE_CODE[ord_type]),
    ]
    if ord_type is OrdType.LIMIT and price is not None:
        body.append((44, f"{price:.2f}"))
    body += [(59, TIF_CODE[tif]), (60, transact_time)]
    return body


def cancel_body(
    *,
    sub_id: str,
    cl_ord_id: str,
    orig_cl_ord_id: str,
    order_id: str | None,
    symbol: str,
    side: Side,
    qty: int,
    transact_time: str,
) -> list[Field]:
    body: list[Field] = [(50, sub_id), (11, cl_ord_id), (41, orig_cl_ord_id)]
    if order_id:
        body.append((37, order_id))
    body += [(55, symbol), (54, SIDE_CODE[side]), (38, str(qty)), (60, transact_time)]
    return body


def mass_status_body(*, sub_id: str, req_id: str) -> list[Field]:
    return [(50, sub_id), (584, req_id), (585, "7")]


def order_status_body(
    *, sub_id: str, req_id: str, cl_ord_id: str, order_id: str | None, symbol: str, side: Side
) -> list[Field]:
    """OrderStatusRequest (H) of one order; the answer echoes OrdStatusReqID(790)."""
    body: list[Field] = [(50, sub_id)]
    if order_id:
        body.append((37, order_id))
    return [*body, (11, cl_ord_id), (790, req_id), (55, symbol), (54, SIDE_CODE[side])]


def trade_capture_request_body(
    *, sub_id: str, req_id: str, since: datetime, until: datetime | None = None
) -> list[Field]:
    """TradeCaptureReportRequest (AD): all trades (569=0), a snapshot (263=0), since ``since``
    (and up to ``until``) in the TrdCapDtGrp group, each instance TradeDate(75) + TransactTime(60)."""
    instants = [since] if until is None else [since, until]
    body: list[Field] = [(50, sub_id), (568, req_id), (569, "0"), (263, "0"), (580, str(len(instants)))]
    for instant in instants:
        body += [(75, instant.astimezone(UTC).strftime("%Y%m%d")), (60, format_utc(instant))]
    return body


# -- parsing ----------------------------------------------------------------------------
def parse_execution_report(msg: simplefix.FixMessage) -> ExecutionReport:
    side_code = text(msg, 54)
    return ExecutionReport(
        exec_type=EXEC_TYPES.get(text(msg, 150) or "", ExecType.OTHER),
        ord_status=ORD_STATUS.get(text(msg, 39) or ""),
        cl_ord_id=text(msg, 11) or "",
        orig_cl_ord_id=text(msg, 41),
        order_id=text(msg, 37),
        exec_id=text(msg, 17),
        symbol=text(msg, 55) or "",
        side=SIDE_FROM_CODE.get(side_code or ""),
        qty=integer(msg, 38),
        price=number(msg, 44),
        cum_qty=integer(msg, 14),
        leaves_qty=integer(msg, 151),
        last_qty=integer(msg, 32),
        last_px=number(msg, 31),
        text=text(msg, 58),
        owner_sub_id=text(msg, 57),
        last_mkt=text(msg, 30) or None,
        avg_px=number(msg, 6),
        mass_status_req_id=text(msg, 584),
        tot_num_reports=integer(msg, 911) if msg.get(911) is not None else None,
        last_rpt_requested=(text(msg, 912) == "Y"),
    )


def parse_trade_capture(msg: simplefix.FixMessage) -> TradeCapture:
    """A TradeCaptureReport (AE); ValueError when it lacks what booking the trade needs."""
    side = SIDE_FROM_CODE.get(text(msg, 54) or "")
    transact_time = parse_utc(text(msg, 60) or "")
    exec_id, order_id, price = text(msg, 17), text(msg, 37), number(msg, 31)
    if side is None or transact_time is None or not exec_id or not order_id or price is None:
        raise ValueError(f"incomplete TradeCaptureReport {text(msg, 571)}")
    owner = text(msg, 448) if text(msg, 452) == "11" else None
    return TradeCapture(
        exec_id=exec_id,
        order_id=order_id,
        cl_ord_id=text(msg, 11) or "",
        symbol=text(msg, 55) or "",
        side=side,
        last_qty=integer(msg, 32),
        last_px=price,
        transact_time=transact_time,
        owner=owner or text(msg, 57),
        order_qty=integer(msg, 38),
        last_mkt=text(msg, 30) or None,
        request_id=text(msg, 568),
        total=integer(msg, 748) if msg.get(748) is not None else None,
        last=text(msg, 912) == "Y",
    )


def parse_trade_capture_ack(msg: simplefix.FixMessage) -> TradeCaptureAck:
    return TradeCaptureAck(
        request_id=text(msg, 568) or "",
        total=integer(msg, 748) if msg.get(748) is not None else None,
        result=integer(msg, 749, default=99),
        status=integer(msg, 750),
        text=text(msg, 58),
    )


def parse_cancel_reject(msg: simplefix.FixMessage) -> CancelReject:
    return CancelReject(
        cl_ord_id=text(msg, 11) or "",
        orig_cl_ord_id=text(msg, 41),
        order_id=text(msg, 37),
        ord_status=ORD_STATUS.get(text(msg, 39) or ""),
        text=text(msg, 58),
    )


def format_utc(instant: datetime) -> str:
    """A FIX UTCTimestamp of ``instant`` (naive means UTC), the millisecond truncated."""
    moment = instant.astimezone(UTC) if instant.tzinfo is not None else instant
    return moment.strftime("%Y%m%d-%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def parse_utc(value: str) -> datetime | None:
    """A FIX UTCTimestamp (seconds, or a fraction of up to 6 digits kept) as an aware UTC datetime."""
    head, _, fraction = value.partition(".")
    try:
        moment = datetime.strptime(head, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    if fraction:
        if not fraction.isdigit():
            return None
        moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return moment


def utc_timestamp() -> str:
    """A FIX UTCTimestamp with milliseconds (tag 60)."""
    msg = simplefix.FixMessage()
    msg.append_utc_timestamp(60, precision=3)
    return text(msg, 60) or ""
