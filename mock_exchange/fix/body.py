"""Splitting a FIX message body into ``(tag, value)`` fields.

A value ends at the next SOH, except that of a length-prefixed data field (RawData(96),
XmlData(213), SecureData(91), Signature(89), the Encoded* texts, ...): its value is as many
bytes as its length field (tag - 1; SignatureLength(93) for Signature) said earlier in the
message, and may hold SOH and ``=``. That value must be followed by SOH, or the body is
malformed (as FIX engines read it: a data field is never cut at a separator).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

SOH = b"\x01"
Field = tuple[int, bytes]

# FIX 4.4's DATA fields and the LENGTH field that gives each one's size
DATA_LENGTH_TAGS: Final = {
    89: 93,
    91: 90,
    96: 95,
    213: 212,
    349: 348,
    351: 350,
    353: 352,
    355: 354,
    357: 356,
    359: 358,
    361: 360,
    363: 362,
    365: 364,
    446: 445,
    619: 618,
    622: 621,
}
# a data field's tag at the start of a field (a body starts with MsgType, never with one)
_DATA_FIELD = re.compile(rb"\x01(?:%s)=" % b"|".join(b"%d" % tag for tag in DATA_LENGTH_TAGS)).search
_TAG_CACHE_LIMIT = 4096
_TAG_NUMBERS: dict[bytes, int] = {}
_FIELD_PAIRS = re.compile(rb"([^=\x01]*)=([^\x01]*)\x01").findall


def parse_body(body: bytes) -> list[Field] | None:
    """Split an encoded body (ending in SOH) into fields; ``None`` when it is malformed."""
    if _DATA_FIELD(body) is not None:
        return _parse_with_data(body)
    pairs = _FIELD_PAIRS(body)
    if len(pairs) == body.count(SOH):  # every field matched: nothing skipped between them
        try:
            return [(_TAG_NUMBERS[tag], value) for tag, value in pairs]
        except KeyError:
            pass  # a tag number not seen before (or not a number)
    return _parse_checked(body)


def in_data_value(data: bytes, start: int, position: int, end: int) -> bool:
    """Whether ``data[position]`` lies inside the value of a data field of the body from ``start``
    to ``end`` (a value claiming to reach past the body's end is not one)."""
    if _DATA_FIELD(data, start, position) is None:
        return False
    stop = position - start
    try:
        for _, value_start, value_end, is_data in _walk(data[start:], stop + 1):
            if is_data and value_start <= stop < value_end < end - start:
                return True
    except _MalformedError:
        pass
    return False


class _MalformedError(Exception):
    """A body that cannot be split into fields."""


def _parse_with_data(body: bytes) -> list[Field] | None:
    try:
        return [(tag, body[start:end]) for tag, start, end, _ in _walk(body, len(body))]
    except _MalformedError:
        return None


def _walk(body: bytes, stop: int) -> Iterator[tuple[int, int, int, bool]]:
    """``(tag, value start, value end, is a data value)`` of each field that starts before ``stop``.

    A field is given before its end is checked, so a walk can stop inside a value not yet
    complete; a malformed field raises :class:`_MalformedError`.
    """
    lengths: dict[int, int] = {}
    position = 0
    while position < stop:
        equals = body.find(b"=", position)
        tag = _tag_number(body[position:equals]) if equals > position else None
        if tag is None:
            raise _MalformedError
        value_start = equals + 1
        size = lengths.get(DATA_LENGTH_TAGS.get(tag, 0), -1)
        value_end = value_start + size if size >= 0 else body.find(SOH, value_start)
        if value_end < 0:
            raise _MalformedError
        yield tag, value_start, value_end, size >= 0
        if body[value_end : value_end + 1] != SOH:
            raise _MalformedError
        if tag in _LENGTH_TAGS and body[value_start:value_end].isdigit():
            digits = body[value_start:value_end]
            # a length beyond any frame: the data field it announces (if any) runs past the body
            lengths[tag] = int(digits) if len(digits) <= _MAX_NUMBER_DIGITS else _BEYOND_ANY_BODY
        position = value_end + 1


_LENGTH_TAGS = frozenset(DATA_LENGTH_TAGS.values())
_MAX_NUMBER_DIGITS = 18  # longer digit runs are not read as numbers (Python refuses beyond 4300)
_BEYOND_ANY_BODY = 1 << 62
_NOT_A_TAG = 10**18  # what a tag number too long to read stands for: no FIX tag (rejected as one)


def _parse_checked(body: bytes) -> list[Field] | None:
    fields: list[Field] = []
    for item in body[:-1].split(SOH):
        tag, equals, value = item.partition(b"=")
        number = _tag_number(tag)
        if number is None or not equals:
            return None
        fields.append((number, value))
    return fields


def _tag_number(tag: bytes) -> int | None:
    number = _TAG_NUMBERS.get(tag)
    if number is None:
        if not tag.isdigit() and not (tag[:1] == b"-" and tag[1:].isdigit()):
            return None  # a negative number is still a tag number (an invalid one, rejected later)
        if len(tag) > _MAX_NUMBER_DIGITS:
            return -_NOT_A_TAG if tag[:1] == b"-" else _NOT_A_TAG
        number = int(tag)
        if len(_TAG_NUMBERS) < _TAG_CACHE_LIMIT:
            _TAG_NUMBERS[tag] = number
    return number
