"""``Duration``: a span of time written ``100ms``, ``2.5s``, ``1m`` or a bare number of seconds.

Stored as whole nanoseconds (the unit of ``Op.t_ns``); ``seconds`` gives a float view.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from gameday.scenario.invalid import invalid, shown
from gameday.scenario.limits import MAX_DURATION_NS, NS_PER_HOUR

__all__ = ["Duration", "parse_duration"]

_NS_PER_UNIT = {
    "ns": Decimal(1),
    "us": Decimal(1_000),
    "ms": Decimal(1_000_000),
    "s": Decimal(1_000_000_000),
    "m": Decimal(60_000_000_000),
    "h": Decimal(3_600_000_000_000),
}
_DURATION_TEXT = re.compile(r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>ns|us|ms|s|m|h)?\s*$")
_EXPECTED = "expected a duration such as '100ms', '2.5s', '1m' or a number of seconds"
_MAX = f"{MAX_DURATION_NS // NS_PER_HOUR}h"


@dataclass(frozen=True, order=True)
class Duration:
    """A non-negative span of time in nanoseconds."""

    ns: int

    def __post_init__(self) -> None:
        if self.ns < 0:
            raise ValueError(f"a duration cannot be negative: {self.ns} ns")

    @classmethod
    def of_seconds(cls, seconds: float) -> Duration:
        return cls(round(Decimal(str(seconds)) * _NS_PER_UNIT["s"]))

    @property
    def seconds(self) -> float:
        return self.ns / 1e9

    def __str__(self) -> str:
        """The shortest exact text: ``10s``, ``2.5s``, ``1m``, ``100ms``, ``0s``."""
        if self.ns == 0:
            return "0s"
        for unit in ("h", "m"):
            if self.ns % _NS_PER_UNIT[unit] == 0:
                return f"{self.ns // int(_NS_PER_UNIT[unit])}{unit}"
        for unit in ("s", "ms", "us"):
            if self.ns >= _NS_PER_UNIT[unit]:
                return f"{_plain(Decimal(self.ns) / _NS_PER_UNIT[unit])}{unit}"
        return f"{self.ns}ns"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        text_or_seconds = core_schema.union_schema([core_schema.str_schema(), core_schema.float_schema()])
        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="always"),
            json_schema_input_schema=text_or_seconds,
        )


def _plain(number: Decimal) -> str:
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_duration(value: object) -> Duration:
    """Parse a duration of at most 24 h (:data:`~gameday.scenario.limits.MAX_DURATION_NS`); raises
    ``ValueError`` saying what was expected."""
    if isinstance(value, Duration):
        return value
    if isinstance(value, bool):
        raise ValueError(f"{_EXPECTED}, got {value!r}")
    if isinstance(value, int | float):
        if value < 0 or value != value:  # negative or NaN
            raise ValueError(f"{_EXPECTED} (not negative), got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a finite duration of at most {_MAX}, got {value!r}")
        return _at_most_max(Decimal(str(value)) * _NS_PER_UNIT["s"], value)
    if isinstance(value, str):
        match = _DURATION_TEXT.match(value)
        if match is not None:
            try:
                number = Decimal(match["number"])
            except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
                pass
            else:
                return _at_most_max(number * _NS_PER_UNIT[match["unit"] or "s"], value)
    raise ValueError(f"{_EXPECTED}, got {shown(value)}")


def _at_most_max(ns: Decimal, value: object) -> Duration:
    if ns > MAX_DURATION_NS:
        raise ValueError(f"expected a duration of at most {_MAX}, got {shown(value)}")
    return Duration(round(ns))


def _validate(value: object) -> Duration:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise invalid("duration", str(error)) from None
