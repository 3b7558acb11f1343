"""The FIX 4.4 data dictionary the acceptor validates inbound messages against.

Loaded from ``spec/fix44.json`` (built from the FIX 4.4 specification by ``spec/build.py``):
each field's type and enumerated values, and for the header, the trailer and every message
the tags it may carry, the tags it must carry and its repeating groups.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("spec") / "fix44.json"

FormatCheck = Callable[[bytes], bool]


def _pattern(expression: bytes) -> FormatCheck:
    matcher = re.compile(expression).fullmatch
    return lambda value: matcher(value) is not None


# What a well-formed value of each type looks like; a type not named here takes any non-empty value.
FORMAT_PATTERNS: Mapping[str, bytes] = {
    # integers of at most 18 digits: every one fits 64 bits (FIX engines read them as such)
    "INT": rb"-?[0-9]{1,18}",
    **dict.fromkeys(["DAYOFMONTH", "LENGTH", "NUMINGROUP", "SEQNUM", "TAGNUM"], rb"[0-9]{1,18}"),
    **dict.fromkeys(
        ["FLOAT", "QTY", "PRICE", "PRICEOFFSET", "AMT", "PERCENTAGE"], rb"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
    ),
    "CHAR": rb"[^\x01]",  # one byte: a value never holds SOH
    "BOOLEAN": rb"[YN]",
    "UTCTIMESTAMP": (
        rb"[0-9]{4}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])-(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)"
        rb"(?:\.[0-9]+)?"
    ),
    "UTCTIMEONLY": rb"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?",
    **dict.fromkeys(["UTCDATEONLY", "UTCDATE", "LOCALMKTDATE"], rb"[0-9]{8}"),
    "MONTHYEAR": rb"[0-9]{6}(?:[0-9]{2}|w[0-9])?",
}
ANY_VALUE = rb"[^\x01]+"
# Length-prefixed values that may hold SOH: no pattern of their own can delimit them.
DATA_TYPES = frozenset({"DATA"})

FORMAT_CHECKS: Mapping[str, FormatCheck] = {
    name: _pattern(pattern) for name, pattern in FORMAT_PATTERNS.items()
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What a valid value of one tag looks like."""

    tag: int
    format_check: FormatCheck | None  # None: any non-empty value
    values: frozenset[bytes] | None  # None: not enumerated
    multiple: bool  # MULTIPLEVALUESTRING: space-separated enumerated values
    pattern: bytes | None = None  # a regex of the values it accepts; None: none fits (data fields)

    def accepts(self, value: bytes) -> bool:
        """Non-empty, well formed and allowed: the one check the common case needs."""
        return bool(value) and self.well_formed(value) and self.value_allowed(value)

    def fast_check(self) -> Callable[[bytes], bool]:
        """:meth:`accepts` as the cheapest callable that gives the same answers."""
        if self.values is not None and not self.multiple:
            return self.values.__contains__  # an allowed value is non-empty and well formed
        if self.values is None:
            # every format check refuses an empty value
            return bool if self.format_check is None else self.format_check
        return self.accepts

    def well_formed(self, value: bytes) -> bool:
        return self.format_check is None or self.format_check(value)

    def value_allowed(self, value: bytes) -> bool:
        if self.values is None:
            return True
        if self.multiple:
            return all(part in self.values for part in value.split(b" "))
        return value in self.values


@dataclass(frozen=True, slots=True)
class SectionSpec:
    """The header, the trailer, a message body or one repeating group's instance."""

    tags: frozenset[int]
    required: tuple[int, ...]  # ascending
    groups: Mapping[int, GroupSpec]


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A repeating group: its NumInGroup tag, the tag opening each instance, its fields."""

    count_tag: int
    delimiter: int
    section: SectionSpec


@dataclass(frozen=True, slots=True)
class Dictionary:
    begin_string: bytes
    fields: Mapping[int, FieldSpec]
    header: SectionSpec
    trailer: SectionSpec
    messages: Mapping[bytes, SectionSpec]


def _section(data: dict[str, Any]) -> SectionSpec:
    groups = {}
    for count_tag, group in data["groups"].items():
        groups[int(count_tag)] = GroupSpec(int(count_tag), group["tags"][0], _section(group))
    return SectionSpec(frozenset(data["tags"]), tuple(sorted(data["required"])), groups)


def _field(tag: int, data: dict[str, Any]) -> FieldSpec:
    values = data.get("values")
    type_name = data["type"]
    spec = FieldSpec(
        tag=tag,
        format_check=FORMAT_CHECKS.get(type_name),
        values=None if values is None else frozenset(value.encode() for value in values),
        multiple=type_name == "MULTIPLEVALUESTRING",
    )
    if type_name in DATA_TYPES:
        return spec
    return dataclasses.replace(spec, pattern=_value_pattern(spec, FORMAT_PATTERNS.get(type_name, ANY_VALUE)))


def _value_pattern(spec: FieldSpec, format_pattern: bytes) -> bytes | None:
    """A regex matching exactly the values ``spec`` accepts (``None`` when it accepts none)."""
    if spec.values is None:
        return format_pattern
    # longest first, so the regex tries them in that order; a value not well formed is never allowed
    allowed = sorted(
        (value for value in spec.values if value and spec.well_formed(value)),
        key=lambda value: (len(value), value),
    )
    if not allowed:
        return None
    choice = b"(?:%s)" % b"|".join(re.escape(value) for value in reversed(allowed))
    return b"%s(?: %s)*" % (choice, choice) if spec.multiple else choice


def parse_dictionary(data: dict[str, Any]) -> Dictionary:
    return Dictionary(
        begin_string=data["begin_string"].encode(),
        fields={int(tag): _field(int(tag), spec) for tag, spec in data["fields"].items()},
        header=_section(data["header"]),
        trailer=_section(data["trailer"]),
        messages={msg_type.encode(): _section(spec) for msg_type, spec in data["messages"].items()},
    )


@functools.cache
def fix44() -> Dictionary:
    """The FIX 4.4 dictionary (read once, on first use)."""
    return parse_dictionary(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
