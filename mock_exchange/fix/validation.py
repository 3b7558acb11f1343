"""Field-level validation of an inbound message against the FIX 4.4 data dictionary.

The checks and their order follow the FIX session-layer test cases (14a-14i) as FIX engines
apply them: message structure (header fields first, trailer last), MsgType, required tags,
then each field in turn (repeated, empty, format, enumerated value, known tag, allowed in
this message type) and the instance count of each repeating group. The first problem found
is returned; the acceptor answers it with a session-level Reject.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from mock_exchange.fix import tags
from mock_exchange.fix.checks import RejectReason, parse_utc_timestamp
from mock_exchange.fix.codec import Field, FixMessage
from mock_exchange.fix.dictionary import Dictionary, GroupSpec, SectionSpec, fix44


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a message fails validation: a SessionRejectReason and the tag concerned."""

    reason: RejectReason
    tag: int | None


class MessageValidator:
    """Checks inbound messages (MsgType first, no 8/9/10) against a :class:`Dictionary`."""

    __slots__ = ("_checks", "_dictionary", "_header_tags", "_plain", "_trailer_tags")

    def __init__(self, dictionary: Dictionary) -> None:
        self._dictionary = dictionary
        self._header_tags = _all_tags(dictionary.header)
        self._trailer_tags = _all_tags(dictionary.trailer)
        self._checks = {tag: spec.fast_check() for tag, spec in dictionary.fields.items()}
        self._plain = {
            msg_type: PlainLayout(dictionary, body) for msg_type, body in dictionary.messages.items()
        }

    @property
    def dictionary(self) -> Dictionary:
        return self._dictionary

    def plain_layout(self, msg_type: bytes) -> PlainLayout | None:
        return self._plain.get(msg_type)

    def validate(self, message: FixMessage) -> Problem | None:
        """The first problem of ``message``, or ``None`` when it is valid."""
        if message.prevalidated or self._plainly_valid(message):
            return None
        return self._first_problem(message)

    def _plainly_valid(self, message: FixMessage) -> bool:
        """The common case in one pass: known type, no repeated tag, no group, all in place.

        ``False`` does not mean invalid, only that the full check has to decide.
        """
        fields = message.fields
        layout = self._plain.get(fields[0][1])
        if layout is None or len(message.index) != len(fields):
            return False
        checks = self._checks
        index = 1
        size = len(fields)
        for section in layout.sections:
            while index < size:
                tag, value = fields[index]
                if tag not in section:
                    break
                if not checks[tag](value):
                    return False
                index += 1
        if index != size:
            return False
        present = message.index
        return all(tag in present for tag in layout.required)

    def _first_problem(self, message: FixMessage) -> Problem | None:
        fields = message.fields
        header_end, body_end = self._sections(fields)
        problem = self._structure(fields, header_end, body_end)
        if problem is not None:
            return problem
        body = self._dictionary.messages.get(fields[0][1])
        if body is None:
            return Problem(RejectReason.INVALID_MSG_TYPE, 35)
        for section in (self._dictionary.header, self._dictionary.trailer, body):
            for tag in section.required:
                if message.get(tag) is None and tag not in _FRAMING_TAGS:
                    return Problem(RejectReason.REQUIRED_TAG_MISSING, tag)
        return (
            self._walk(fields, 1, header_end, self._dictionary.header)
            or self._walk(fields, header_end, body_end, body)
            or self._walk(fields, body_end, len(fields), self._dictionary.trailer)
        )

    def _sections(self, fields: list[Field]) -> tuple[int, int]:
        """Where the header ends and where the trailer starts (both as indexes into fields)."""
        header_tags, trailer_tags = self._header_tags, self._trailer_tags
        size = len(fields)
        header_end = 1
        while header_end < size and fields[header_end][0] in header_tags:
            header_end += 1
        body_end = size
        while body_end > header_end and fields[body_end - 1][0] in trailer_tags:
            body_end -= 1
        return header_end, body_end

    def _structure(self, fields: list[Field], header_end: int, body_end: int) -> Problem | None:
        """A header or trailer field inside the body is out of its required order."""
        header_tags, trailer_tags = self._header_tags, self._trailer_tags
        for index in range(header_end, body_end):
            tag = fields[index][0]
            if tag in header_tags or tag in trailer_tags:
                return Problem(RejectReason.TAG_OUT_OF_ORDER, tag)
        return None

    def _walk(self, fields: list[Field], start: int, end: int, section: SectionSpec) -> Problem | None:
        seen: set[int] = set()
        index = start
        while index < end:
            tag, value = fields[index]
            problem = self._field(tag, value, seen) or _allowed(tag, section)
            if problem is not None:
                return problem
            seen.add(tag)
            index += 1
            group = section.groups.get(tag)
            if group is not None:
                index, problem = self._group(fields, index, end, group, int(value))
                if problem is not None:
                    return problem
        return None

    def _group(
        self, fields: list[Field], index: int, end: int, group: GroupSpec, count: int
    ) -> tuple[int, Problem | None]:
        """Check the instances of ``group`` from ``index``; return where they end."""
        section = group.section
        instances = 0
        seen: set[int] = set()
        while index < end and fields[index][0] in section.tags:
            tag, value = fields[index]
            if tag == group.delimiter:
                if instances and (problem := _missing(section, seen)) is not None:
                    return index, problem
                instances += 1
                seen = set()
            elif not instances:
                return index, Problem(RejectReason.TAG_OUT_OF_ORDER, tag)
            problem = self._field(tag, value, seen)
            if problem is not None:
                return index, problem
            seen.add(tag)
            index += 1
            nested = section.groups.get(tag)
            if nested is not None:
                index, problem = self._group(fields, index, end, nested, int(value))
                if problem is not None:
                    return index, problem
        if instances and (problem := _missing(section, seen)) is not None:
            return index, problem
        if instances != count:
            return index, Problem(RejectReason.INCORRECT_NUM_IN_GROUP_COUNT, group.count_tag)
        return index, None

    def _field(self, tag: int, value: bytes, seen: set[int]) -> Problem | None:
        if tag in seen:
            return Problem(RejectReason.TAG_APPEARS_MORE_THAN_ONCE, tag)
        if not value:
            return Problem(RejectReason.TAG_WITHOUT_VALUE, tag)
        spec = self._dictionary.fields.get(tag)
        if spec is None:
            return Problem(RejectReason.INVALID_TAG_NUMBER, tag)
        if not spec.well_formed(value):
            return Problem(RejectReason.INCORRECT_DATA_FORMAT, tag)
        if not spec.value_allowed(value):
            return Problem(RejectReason.VALUE_INCORRECT, tag)
        return None


@functools.cache
def fix44_validator() -> MessageValidator:
    """The validator of FIX 4.4 messages (built once, on first use)."""
    return MessageValidator(fix44())


def poss_dup_problem(message: FixMessage) -> Problem | None:
    """What is wrong with a message with PossDupFlag=Y (not a SequenceReset), if anything.

    It needs OrigSendingTime(122), and that must not be later than its SendingTime(52).
    """
    orig_value = message.get(tags.ORIG_SENDING_TIME)
    orig = None if orig_value is None else parse_utc_timestamp(orig_value)
    if orig is None:
        return Problem(RejectReason.REQUIRED_TAG_MISSING, tags.ORIG_SENDING_TIME)
    sent = parse_utc_timestamp(message.get(tags.SENDING_TIME) or b"")
    if sent is not None and orig > sent:
        return Problem(RejectReason.SENDING_TIME_ACCURACY, None)
    return None


_FRAMING_TAGS = frozenset({8, 9, 10})  # checked by the framing itself


class PlainLayout:
    """A message type's header, body and trailer tags outside repeating groups, and its required tags.

    A message is *plain* when its tags are distinct, come in this order (header, body, trailer)
    from these sets, and include the required ones: then only its values can be wrong.
    """

    __slots__ = ("required", "sections")

    def __init__(self, dictionary: Dictionary, body: SectionSpec) -> None:
        sections = (dictionary.header, body, dictionary.trailer)
        self.sections = tuple(section.tags - section.groups.keys() for section in sections)
        self.required = tuple(
            tag for section in sections for tag in section.required if tag not in _FRAMING_TAGS
        )

    def holds(self, tags: tuple[int, ...]) -> bool:
        """Whether a message of these tags (MsgType first) is plain in this layout."""
        if len(set(tags)) != len(tags):
            return False
        index, size = 1, len(tags)
        for section in self.sections:
            while index < size and tags[index] in section:
                index += 1
        present = set(tags)
        return index == size and all(tag in present for tag in self.required)


def _allowed(tag: int, section: SectionSpec) -> Problem | None:
    if tag in section.tags:
        return None
    return Problem(RejectReason.TAG_NOT_DEFINED_FOR_MESSAGE, tag)


def _missing(section: SectionSpec, seen: set[int]) -> Problem | None:
    for tag in section.required:
        if tag not in seen:
            return Problem(RejectReason.REQUIRED_TAG_MISSING, tag)
    return None


def _all_tags(section: SectionSpec) -> frozenset[int]:
    """Every tag of ``section``, its groups' included."""
    tags = set(section.tags)
    for group in section.groups.values():
        tags |= _all_tags(group.section)
    return frozenset(tags)
