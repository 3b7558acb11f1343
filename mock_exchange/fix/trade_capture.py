"""Trade capture over FIX (a drop copy): TradeCaptureReportRequest (AD) in,
TradeCaptureReportRequestAck (AQ) and one TradeCaptureReport (AE) per execution out.

What a request may ask: TradeRequestType(569)=0 (all trades), SubscriptionRequestType(263)=0
or absent (a snapshot), and a time filter in the TrdCapDtGrp group (NoDates(580); each instance
opens with TradeDate(75), TransactTime(60) optional): one instance = the executions since that
instant, two = between the two instants (both inclusive). An instance without TransactTime
stands for its whole UTC day. The answer covers every execution of the requesting session's firm,
whichever of the firm's sessions entered the order: it is how a successor learns what its dead
predecessor's session was told. Anything else is refused with AQ 750=2 (rejected), 749 saying
why (8 type not supported, 99 other) and 58 Text; a malformed field never gets this far (the
acceptor's validation answers it with a session Reject).

The ledger stamps executions with ``time.monotonic_ns()``; :class:`WallClock` puts them on the
wall clock through one offset measured when the venue starts, the same way for the filter and
for the TransactTime(60) reported, so a request "since the last TransactTime seen" is exact.
"""

from __future__ import annotations

import bisect
import calendar
import time
from dataclasses import dataclass

from mock_exchange.fix import tags
from mock_exchange.fix.checks import parse_utc_timestamp
from mock_exchange.fix.codec import Field, FixMessage
from mock_exchange.fix.fields import SIDE_CODES, format_price, required
from mock_exchange.fix.session import FixSession, SessionRegistry
from mock_exchange.fix.tags import MsgType
from mock_exchange.ledger import Ledger
from mock_exchange.model import Fill

ALL_TRADES = b"0"
SNAPSHOT = b"0"
RESULT_SUCCESSFUL = b"0"
RESULT_TYPE_NOT_SUPPORTED = b"8"
RESULT_OTHER = b"99"
STATUS_ACCEPTED = b"0"
STATUS_REJECTED = b"2"
EXEC_TYPE_TRADE = b"F"
PARTY_ID_PROPRIETARY = b"D"
PARTY_ROLE_ORDER_ORIGINATION_TRADER = b"11"
NS_PER_S = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_S
_DATE_FIELDS = frozenset({tags.TRADE_DATE, tags.TRANSACT_TIME})


class WallClock:
    """Monotonic ledger instants to wall-clock nanoseconds and back (one offset, fixed at start)."""

    __slots__ = ("offset_ns",)

    def __init__(self, offset_ns: int | None = None) -> None:
        self.offset_ns = time.time_ns() - time.monotonic_ns() if offset_ns is None else offset_ns

    def wall_ns(self, monotonic_ns: int) -> int:
        return monotonic_ns + self.offset_ns

    def monotonic_ns(self, wall_ns: int) -> int:
        return wall_ns - self.offset_ns


@dataclass(frozen=True, slots=True)
class TradeWindow:
    """Wall-clock bounds of the executions asked for (``None``: unbounded), both inclusive."""

    since_ns: int | None = None
    until_ns: int | None = None


class TradeRequestRefused(Exception):
    """A request the venue does not serve: answered with AQ 750=2 and this 749 and text."""

    def __init__(self, result: bytes, text: str) -> None:
        super().__init__(text)
        self.result = result
        self.text = text


def utc_timestamp(wall_ns: int) -> bytes:
    """``YYYYMMDD-HH:MM:SS.sss`` (the millisecond truncated, so the value is never after the instant)."""
    seconds, rest = divmod(wall_ns, NS_PER_S)
    return b"%s.%03d" % (time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)).encode(), rest // 1_000_000)


def trade_date(wall_ns: int) -> bytes:
    return time.strftime("%Y%m%d", time.gmtime(wall_ns // NS_PER_S)).encode()


def parse_timestamp_ns(value: bytes) -> int | None:
    """Wall-clock nanoseconds of a UTCTimestamp (every fraction digit kept); ``None`` if malformed."""
    if parse_utc_timestamp(value) is None:
        return None
    whole = calendar.timegm(time.strptime(value[:17].decode("ascii"), "%Y%m%d-%H:%M:%S"))
    fraction = value[18:27].ljust(9, b"0") if len(value) > 17 else b"0"
    return whole * NS_PER_S + int(fraction)


def _date_ns(value: bytes) -> int | None:
    try:
        return calendar.timegm(time.strptime(value.decode("ascii"), "%Y%m%d")) * NS_PER_S
    except ValueError:
        return None


def _instants(message: FixMessage) -> list[tuple[bytes | None, bytes | None]]:
    """The (TradeDate, TransactTime) of each TrdCapDtGrp instance, in order."""
    fields = message.fields
    start = next((i for i, (tag, _value) in enumerate(fields) if tag == tags.NO_DATES), None)
    if start is None:
        return []
    instances: list[tuple[bytes | None, bytes | None]] = []
    for tag, value in fields[start + 1 :]:
        if tag not in _DATE_FIELDS:
            break
        if tag == tags.TRADE_DATE or not instances:
            instances.append((value, None) if tag == tags.TRADE_DATE else (None, value))
        else:
            instances[-1] = (instances[-1][0], value)
    return instances


def _bound(date: bytes | None, timestamp: bytes | None, *, end_of_day: bool) -> int:
    if timestamp is not None:
        instant = parse_timestamp_ns(timestamp)
    else:
        instant = None if date is None else _date_ns(date)
        if instant is not None and end_of_day:
            instant += NS_PER_DAY - 1
    if instant is None:
        raise TradeRequestRefused(RESULT_OTHER, "unreadable TradeDate(75)/TransactTime(60) in TrdCapDtGrp")
    return instant


def trade_window(message: FixMessage) -> TradeWindow:
    """What an AD asks for, or :class:`TradeRequestRefused` saying why it is not served."""
    if required(message, tags.TRADE_REQUEST_TYPE) != ALL_TRADES:
        raise TradeRequestRefused(
            RESULT_TYPE_NOT_SUPPORTED, "only TradeRequestType(569)=0 (all trades) is supported"
        )
    if message.get(tags.SUBSCRIPTION_REQUEST_TYPE, SNAPSHOT) != SNAPSHOT:
        raise TradeRequestRefused(
            RESULT_OTHER, "only snapshots (SubscriptionRequestType(263)=0) are supported"
        )
    instants = _instants(message)
    if len(instants) > 2:
        raise TradeRequestRefused(RESULT_OTHER, "NoDates(580) must be 1 (since) or 2 (a range)")
    if not instants:
        return TradeWindow()
    since = _bound(*instants[0], end_of_day=False)
    if len(instants) == 1:
        return TradeWindow(since)
    until = _bound(*instants[1], end_of_day=True)
    if until < since:
        raise TradeRequestRefused(RESULT_OTHER, "the TrdCapDtGrp range ends before it starts")
    return TradeWindow(since, until)


class TradeCaptureDesk:
    """Answers TradeCaptureReportRequest from the ledger's fills."""

    def __init__(self, ledger: Ledger, sessions: SessionRegistry, clock: WallClock | None = None) -> None:
        self._ledger = ledger
        self._sessions = sessions
        self._clock = clock or WallClock()

    def executions(self, window: TradeWindow, firm: str) -> list[Fill]:
        """The firm's fills in ``window``, in the order they happened (a binary search, then a scan)."""
        fills = self._ledger.fills
        start, end = 0, len(fills)
        if window.since_ns is not None:
            start = bisect.bisect_left(fills, self._clock.monotonic_ns(window.since_ns), key=_t_ns)
        if window.until_ns is not None:
            end = bisect.bisect_right(fills, self._clock.monotonic_ns(window.until_ns), key=_t_ns)
        owners = {session.sender_comp_id for session in self._sessions if session.firm == firm}
        orders = self._ledger.orders
        return [fill for fill in fills[start:end] if orders[fill.order_id].sender_comp_id in owners]

    def answer(self, session: FixSession, message: FixMessage) -> None:
        request_id = required(message, tags.TRADE_REQUEST_ID)
        reply_to = message.get_str(tags.SENDER_SUB_ID)
        try:
            window = trade_window(message)
        except TradeRequestRefused as refusal:
            session.send(
                MsgType.TRADE_CAPTURE_REPORT_REQUEST_ACK,
                _ack(message, request_id, None, refusal.result, STATUS_REJECTED, refusal.text),
                target_sub_id=reply_to,
            )
            return
        fills = self.executions(window, session.firm)
        total = b"%d" % len(fills)
        session.send(
            MsgType.TRADE_CAPTURE_REPORT_REQUEST_ACK,
            _ack(message, request_id, total, RESULT_SUCCESSFUL, STATUS_ACCEPTED, None),
            target_sub_id=reply_to,
        )
        orders = self._ledger.orders
        for number, fill in enumerate(fills, start=1):
            order = orders[fill.order_id]
            fields = self.report_fields(fill, request_id, total, last=number == len(fills))
            session.send(MsgType.TRADE_CAPTURE_REPORT, fields, target_sub_id=order.sender_sub_id)

    def report_fields(self, fill: Fill, request_id: bytes, total: bytes, *, last: bool) -> list[Field]:
        """The TradeCaptureReport of one execution (its order's owner as PartyRole 11)."""
        order = self._ledger.orders[fill.order_id]
        wall_ns = self._clock.wall_ns(fill.t_ns)
        exec_id = fill.exec_id.encode()
        fields: list[Field] = [
            (tags.TRADE_REPORT_ID, b"TR-%s" % exec_id),
            (tags.TRADE_REQUEST_ID, request_id),
            (tags.EXEC_TYPE, EXEC_TYPE_TRADE),
            (tags.TOT_NUM_TRADE_REPORTS, total),
            (tags.LAST_RPT_REQUESTED, b"Y" if last else b"N"),
            (tags.EXEC_ID, exec_id),
            (tags.PREVIOUSLY_REPORTED, b"N"),
            (tags.SYMBOL, fill.symbol.encode()),
            (tags.ORDER_QTY, b"%d" % order.qty),
            (tags.LAST_QTY, b"%d" % fill.qty),
            (tags.LAST_PX, format_price(fill.price)),
        ]
        if fill.market is not None:
            fields.append((tags.LAST_MKT, fill.market.encode()))
        fields += [
            (tags.TRADE_DATE, trade_date(wall_ns)),
            (tags.TRANSACT_TIME, utc_timestamp(wall_ns)),
            (tags.NO_SIDES, b"1"),
            (tags.SIDE, SIDE_CODES[fill.side]),
            (tags.ORDER_ID, fill.order_id.encode()),
            (tags.CL_ORD_ID, fill.cl_ord_id.encode()),
            (tags.NO_PARTY_IDS, b"1"),
            (tags.PARTY_ID, order.instance.encode()),
            (tags.PARTY_ID_SOURCE, PARTY_ID_PROPRIETARY),
            (tags.PARTY_ROLE, PARTY_ROLE_ORDER_ORIGINATION_TRADER),
        ]
        return fields


def _t_ns(fill: Fill) -> int:
    return fill.t_ns


def _ack(
    message: FixMessage,
    request_id: bytes,
    total: bytes | None,
    result: bytes,
    status: bytes,
    text: str | None,
) -> list[Field]:
    fields: list[Field] = [(tags.TRADE_REQUEST_ID, request_id)]
    request_type = message.get(tags.TRADE_REQUEST_TYPE)
    if request_type is not None:
        fields.append((tags.TRADE_REQUEST_TYPE, request_type))
    subscription = message.get(tags.SUBSCRIPTION_REQUEST_TYPE)
    if subscription is not None:
        fields.append((tags.SUBSCRIPTION_REQUEST_TYPE, subscription))
    if total is not None:
        fields.append((tags.TOT_NUM_TRADE_REPORTS, total))
    fields += [(tags.TRADE_REQUEST_RESULT, result), (tags.TRADE_REQUEST_STATUS, status)]
    if text is not None:
        fields.append((tags.TEXT, text.encode()))
    return fields
