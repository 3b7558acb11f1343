"""Session-level checks of inbound messages and the Reject(3) that answers a failed one.

Texts follow the wording FIX engines commonly use (QuickFIX), so a conformance suite that
matches on them finds what it expects.
"""

from __future__ import annotations

import calendar
import time
from enum import IntEnum

from mock_exchange.fix import tags
from mock_exchange.fix.codec import Field, FixMessage, encode_fields
from mock_exchange.fix.session import FixSession
from mock_exchange.fix.tags import MsgType

SENDING_TIME_TOLERANCE_S = 120.0

SENDING_TIME_PROBLEM = "SendingTime accuracy problem"
COMP_ID_PROBLEM = "CompID problem"
INVALID_MSG_TYPE = "Invalid MsgType"
REQUIRED_TAG_MISSING = "Required tag missing"
VALUE_OUT_OF_RANGE = "Value is incorrect (out of range) for this tag"
UNSUPPORTED_MESSAGE_TYPE = "Unsupported Message Type"


class RejectReason(IntEnum):
    """SessionRejectReason(373) values."""

    INVALID_TAG_NUMBER = 0
    REQUIRED_TAG_MISSING = 1
    TAG_NOT_DEFINED_FOR_MESSAGE = 2
    TAG_WITHOUT_VALUE = 4
    VALUE_INCORRECT = 5
    INCORRECT_DATA_FORMAT = 6
    COMP_ID_PROBLEM = 9
    SENDING_TIME_ACCURACY = 10
    INVALID_MSG_TYPE = 11
    TAG_APPEARS_MORE_THAN_ONCE = 13
    TAG_OUT_OF_ORDER = 14
    INCORRECT_NUM_IN_GROUP_COUNT = 16
    OTHER = 99


REJECT_TEXTS = {
    RejectReason.INVALID_TAG_NUMBER: "Invalid tag number",
    RejectReason.REQUIRED_TAG_MISSING: REQUIRED_TAG_MISSING,
    RejectReason.TAG_NOT_DEFINED_FOR_MESSAGE: "Tag not defined for this message type",
    RejectReason.TAG_WITHOUT_VALUE: "Tag specified without a value",
    RejectReason.VALUE_INCORRECT: VALUE_OUT_OF_RANGE,
    RejectReason.INCORRECT_DATA_FORMAT: "Incorrect data format for value",
    RejectReason.COMP_ID_PROBLEM: COMP_ID_PROBLEM,
    RejectReason.SENDING_TIME_ACCURACY: SENDING_TIME_PROBLEM,
    RejectReason.INVALID_MSG_TYPE: INVALID_MSG_TYPE,
    RejectReason.TAG_APPEARS_MORE_THAN_ONCE: "Tag appears more than once",
    RejectReason.TAG_OUT_OF_ORDER: "Tag specified out of required order",
    RejectReason.INCORRECT_NUM_IN_GROUP_COUNT: "Incorrect NumInGroup count for repeating group",
    RejectReason.OTHER: "Other",
}


class BusinessRejectReason(IntEnum):
    """BusinessRejectReason(380) values."""

    OTHER = 0
    UNSUPPORTED_MESSAGE_TYPE = 3


def send_session_reject(
    session: FixSession,
    message: FixMessage,
    ref_seq: int,
    *,
    reason: RejectReason | int,
    text: str,
    ref_tag: int | None = None,
) -> None:
    """Session-level Reject(3) of an inbound message."""
    fields: list[Field] = [(tags.REF_SEQ_NUM, b"%d" % ref_seq), (tags.TEXT, text.encode())]
    if ref_tag is not None:
        fields.append((tags.REF_TAG_ID, b"%d" % ref_tag))
    fields += [(tags.REF_MSG_TYPE, message.msg_type), (tags.SESSION_REJECT_REASON, b"%d" % reason)]
    session.send(MsgType.REJECT, fields, route=reverse_route(message))


# OnBehalfOf* of a message comes back as DeliverTo* on its answer, and the other way round
_REVERSE_ROUTE = (
    (tags.ON_BEHALF_OF_COMP_ID, tags.DELIVER_TO_COMP_ID),
    (tags.ON_BEHALF_OF_SUB_ID, tags.DELIVER_TO_SUB_ID),
    (tags.ON_BEHALF_OF_LOCATION_ID, tags.DELIVER_TO_LOCATION_ID),
    (tags.DELIVER_TO_COMP_ID, tags.ON_BEHALF_OF_COMP_ID),
    (tags.DELIVER_TO_SUB_ID, tags.ON_BEHALF_OF_SUB_ID),
    (tags.DELIVER_TO_LOCATION_ID, tags.ON_BEHALF_OF_LOCATION_ID),
)


def reverse_route(message: FixMessage) -> bytes:
    """The routing header fields of an answer to ``message`` (empty when it names no third party)."""
    fields = [(answer_tag, value) for tag, answer_tag in _REVERSE_ROUTE if (value := message.get(tag))]
    return encode_fields(fields) if fields else b""


def send_business_reject(session: FixSession, message: FixMessage, ref_seq: int, text: str) -> None:
    """BusinessMessageReject(j) of an application message the venue does not support."""
    session.send(
        MsgType.BUSINESS_MESSAGE_REJECT,
        [
            (tags.REF_SEQ_NUM, b"%d" % ref_seq),
            (tags.TEXT, text.encode()),
            (tags.REF_MSG_TYPE, message.msg_type),
            (tags.BUSINESS_REJECT_REASON, b"%d" % BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE),
        ],
    )


class _SecondCache:
    """Epoch seconds of the last ``YYYYMMDD-HH:MM:SS`` seen, so most parses skip the calendar."""

    __slots__ = ("_epoch", "_head")

    def __init__(self) -> None:
        self._head = b""
        self._epoch = 0

    def epoch(self, head: bytes) -> int | None:
        if head != self._head:
            epoch = _parse_whole_seconds(head)
            if epoch is None:
                return None
            self._head, self._epoch = head, epoch
        return self._epoch


def _parse_whole_seconds(head: bytes) -> int | None:
    if head[8:9] != b"-" or head[11:12] != b":" or head[14:15] != b":":
        return None
    date, hours, minutes, seconds = head[:8], head[9:11], head[12:14], head[15:17]
    if not (date.isdigit() and hours.isdigit() and minutes.isdigit() and seconds.isdigit()):
        return None
    hour, minute, second = int(hours), int(minutes), int(seconds)
    if hour > 23 or minute > 59 or second > 60:
        return None
    try:
        midnight = calendar.timegm(time.strptime(date.decode("ascii"), "%Y%m%d"))
    except ValueError:
        return None
    return midnight + hour * 3600 + minute * 60 + second


_seconds = _SecondCache()


def parse_utc_timestamp(value: bytes) -> float | None:
    """Epoch seconds of a ``YYYYMMDD-HH:MM:SS[.fff...]`` UTCTimestamp; ``None`` if malformed."""
    if len(value) < 17:
        return None
    epoch = _seconds.epoch(value[:17])
    if epoch is None:
        return None
    if len(value) == 17:
        return float(epoch)
    fraction = value[18:]
    if value[17] != 0x2E or not fraction.isdigit():  # b"."
        return None
    fraction = fraction[:9]  # nanoseconds: more digits change nothing a float holds
    return epoch + int(fraction) / 10 ** len(fraction)


def sending_time_is_accurate(message: FixMessage, now: float | None = None) -> bool:
    """SendingTime(52) present, well formed and within the tolerance of this machine's clock."""
    value = message.get(tags.SENDING_TIME)
    sent = None if value is None else parse_utc_timestamp(value)
    if sent is None:
        return False
    return abs((time.time() if now is None else now) - sent) <= SENDING_TIME_TOLERANCE_S
