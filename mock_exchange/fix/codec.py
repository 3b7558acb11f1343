"""FIX 4.4 wire codec: message value object, encoder and an incremental stream parser.

The parser frames by ``8=<BeginString><SOH>9=<len><SOH>`` + BodyLength bytes + ``10=nnn<SOH>``,
validates the checksum, and treats anything else (bad length, bad checksum, non-numeric tag,
a body that contains another header or trailer) as garbage: it drops bytes up to the next
``8=FIX`` after the bad frame's start, so one bad frame never swallows the good ones behind it.
A well-framed message of another FIX version is kept, with its BeginString, for the session
layer to answer.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol

from mock_exchange.fix.body import SOH, Field, in_data_value, parse_body

BEGIN_STRING = b"FIX.4.4"
FRAME_PREFIX = b"8=FIX.4.4\x019="
RESYNC_MARKER = b"8=FIX"
DEFAULT_MAX_BODY_LENGTH = 1 << 20
_MAX_LENGTH_DIGITS = 8
_TRAILER_LENGTH = 7  # b"10=nnn\x01"
_INNER_TRAILER = b"\x0110="
_INNER_HEADER = b"\x018="
_PREFIX_LENGTH = len(FRAME_PREFIX)
_MAX_BEGIN_STRING = 16
_MARKER_KEEP = len(RESYNC_MARKER) - 1
_MIN_BODY_LENGTH = 5  # b"35=0\x01"
_INCOMPLETE = -1
_GARBAGE = -2
_ADLER_CHUNK = 256  # 1 + 255 * 256 < 65521: Adler-32's sum component does not wrap
_ASCII_ADLER_CHUNK = 515  # 1 + 127 * 515 < 65521: nor for ASCII text this long (most FIX messages)


class FixMessage:
    """One FIX message: its body fields (MsgType first), without 8, 9 and 10."""

    __slots__ = ("_fields", "_index", "begin_string", "msg_type", "prevalidated")

    def __init__(self, fields: list[Field], begin_string: bytes = BEGIN_STRING) -> None:
        self._fields = fields
        self.begin_string = begin_string
        # built from the end, so a repeated tag keeps its first value
        self._index = dict(reversed(fields))
        self.msg_type: bytes = self._index.get(35) or b""
        self.prevalidated = False  # True: known to pass the FIX 4.4 dictionary's checks

    @property
    def fields(self) -> list[Field]:
        return self._fields

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        """Value of the first occurrence of ``tag``, else ``default``."""
        return self._index.get(tag, default)

    @property
    def index(self) -> dict[int, bytes]:
        """Each tag's first value (do not modify)."""
        return self._index

    def get_str(self, tag: int) -> str | None:
        value = self.get(tag)
        return None if value is None else value.decode("latin-1")

    def encode(self) -> bytes:
        return encode(self.fields)

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FixMessage) and other.fields == self.fields

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        body = "|".join(f"{tag}={value.decode('latin-1')}" for tag, value in self.fields)
        return f"FixMessage({body})"


def encode_fields(fields: Iterable[Field]) -> bytes:
    """The ``tag=value<SOH>`` run of ``fields`` (a body segment, no framing)."""
    return b"".join([b"%d=%s\x01" % field for field in fields])


def frame(body: bytes) -> bytes:
    """Wrap an encoded body with BeginString, BodyLength and CheckSum."""
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    return b"%s%s10=%03d\x01" % (head, body, (byte_sum(head) + byte_sum(body)) & 0xFF)


def encode(fields: Iterable[Field]) -> bytes:
    """Encode body fields (MsgType first) into one framed FIX message."""
    return frame(encode_fields(fields))


def byte_sum(data: bytes | bytearray | memoryview) -> int:
    """Sum of all bytes, computed in C via Adler-32's first component (exact per 256-byte chunk)."""
    size = len(data)
    if size <= _ADLER_CHUNK or (size <= _ASCII_ADLER_CHUNK and isinstance(data, bytes) and data.isascii()):
        return (zlib.adler32(data) & 0xFFFF) - 1
    view = memoryview(data)
    total = 0
    for offset in range(0, len(view), _ADLER_CHUNK):
        total += (zlib.adler32(view[offset : offset + _ADLER_CHUNK]) & 0xFFFF) - 1
    return total


def checksum(data: bytes | bytearray | memoryview) -> int:
    """FIX CheckSum(10) of ``data``: the byte sum modulo 256."""
    return byte_sum(data) & 0xFF


class BodyShapes(Protocol):
    """Parses the bodies of known layouts faster than field by field (None: not one of them)."""

    def parse(self, body: bytes) -> FixMessage | None: ...


class FixStreamParser:
    """Incremental framer/parser for a byte stream of FIX 4.4 messages."""

    __slots__ = (
        "_max_body_length",
        "_pending",
        "_shapes",
        "discarded_bytes",
        "discarded_frames",
        "garbled_at",
    )

    def __init__(
        self, max_body_length: int = DEFAULT_MAX_BODY_LENGTH, shapes: BodyShapes | None = None
    ) -> None:
        self._pending = b""
        self._max_body_length = max_body_length
        self._shapes = shapes
        self.discarded_bytes = 0
        self.discarded_frames = 0
        # of the last feed: how many of its messages came before its first garbled frame
        self.garbled_at: int | None = None

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of a frame."""
        return len(self._pending)

    def feed(self, data: bytes) -> list[FixMessage]:
        """Add received bytes; return every complete, valid message now available.

        :attr:`garbled_at` tells where among them a garbled frame was dropped, if one was.
        """
        self.garbled_at = None
        if self._pending:
            data = self._pending + data
        messages: list[FixMessage] = []
        position = 0
        size = len(data)
        while position < size:
            start = data.find(RESYNC_MARKER, position)
            if start < 0:
                self._discard(max(position, size - _MARKER_KEEP) - position, frame_bad=False)
                position = max(position, size - _MARKER_KEEP)
                break
            if start > position:
                self._discard(start - position, frame_bad=False)
                position = start
            frame_end = self._frame_end(data, position, messages)
            if frame_end == _INCOMPLETE:
                break
            if frame_end == _GARBAGE:
                if self.garbled_at is None:
                    self.garbled_at = len(messages)
                next_start = data.find(RESYNC_MARKER, position + 1)
                if next_start < 0:
                    next_start = max(position + 1, size - _MARKER_KEEP)
                self._discard(next_start - position, frame_bad=True)
                position = next_start
            else:
                position = frame_end
        self._pending = data[position:]
        return messages

    def _frame_end(self, data: bytes, start: int, messages: list[FixMessage]) -> int:
        """Parse the frame at ``start``: its end offset, or ``_INCOMPLETE`` / ``_GARBAGE``."""
        size = len(data)
        if data.startswith(FRAME_PREFIX, start):
            begin_string = BEGIN_STRING
            digits_start = start + _PREFIX_LENGTH
        else:
            begin_string, digits_start = _other_begin_string(data, start)
            if digits_start < 0:
                return digits_start
        length_end = data.find(SOH, digits_start, digits_start + _MAX_LENGTH_DIGITS + 1)
        if length_end < 0:
            return _INCOMPLETE if size <= digits_start + _MAX_LENGTH_DIGITS else _GARBAGE
        digits = data[digits_start:length_end]
        if not digits.isdigit():
            return _GARBAGE
        body_length = int(digits)
        if body_length < _MIN_BODY_LENGTH or body_length > self._max_body_length:
            return _GARBAGE
        body_start = length_end + 1
        body_end = body_start + body_length
        if _holds_another_frame(data, length_end, body_end):
            return _GARBAGE
        frame_end = body_end + _TRAILER_LENGTH
        if size < frame_end:
            return _INCOMPLETE
        if data[body_end - 1] != 1 or data[frame_end - 1] != 1 or not data.startswith(b"10=", body_end):
            return _GARBAGE
        checksum_digits = data[body_end + 3 : frame_end - 1]
        if not checksum_digits.isdigit() or int(checksum_digits) != checksum(data[start:body_end]):
            return _GARBAGE
        body = data[body_start:body_end]
        shaped = None if self._shapes is None or begin_string != BEGIN_STRING else self._shapes.parse(body)
        if shaped is not None:
            messages.append(shaped)
            return frame_end
        fields = parse_body(body)
        if not fields or fields[0][0] != 35:
            return _GARBAGE
        messages.append(FixMessage(fields, begin_string))
        return frame_end

    def _discard(self, count: int, *, frame_bad: bool) -> None:
        self.discarded_bytes += count
        if frame_bad:
            self.discarded_frames += 1


def _holds_another_frame(data: bytes, length_end: int, body_end: int) -> bool:
    """Whether the claimed body (after BodyLength's SOH at ``length_end``) holds a header or a
    trailer outside its data fields' values: a bad BodyLength that would swallow the next frame."""
    stop = min(len(data), body_end + 3)
    trailer = data.find(_INNER_TRAILER, length_end, stop)
    if (
        (trailer < 0 or trailer > body_end - 2)
        and data.find(_INNER_HEADER, length_end, stop) < 0
        and data.find(FRAME_PREFIX, length_end, stop) < 0
    ):
        return False  # the common case: nothing to look at more closely
    body_start = length_end + 1
    for needle, last in (
        (_INNER_HEADER, body_end),
        (FRAME_PREFIX, body_end - 1),
        (_INNER_TRAILER, body_end - 2),
    ):
        found = data.find(needle, length_end, stop)
        while 0 <= found <= last:
            if not in_data_value(data, body_start, found, body_end):
                return True
            found = data.find(needle, found + 1, stop)
    return False


def _other_begin_string(data: bytes, start: int) -> tuple[bytes, int]:
    """BeginString of a frame at ``start`` not of FIX.4.4, and where its BodyLength digits start.

    The offset is ``_INCOMPLETE`` or ``_GARBAGE`` when there is no such header (yet).
    """
    value_start = start + 2  # after b"8="
    end = data.find(SOH, value_start, value_start + _MAX_BEGIN_STRING + 1)
    if end < 0:
        incomplete = len(data) - value_start <= _MAX_BEGIN_STRING
        return b"", _INCOMPLETE if incomplete else _GARBAGE
    if len(data) < end + 3:
        return b"", _INCOMPLETE
    if data[end + 1 : end + 3] != b"9=":
        return b"", _GARBAGE
    return data[value_start:end], end + 3
