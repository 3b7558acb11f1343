"""``invalid``: the validation error our validators raise, its text used verbatim.

Messages say what was expected (``expected a duration such as '100ms'``); the loader adds
where (file, line, YAML path) and what was found (``got 'soon'``).
"""

from __future__ import annotations

from pydantic_core import PydanticCustomError

from gameday.scenario.limits import MAX_SHOWN_CHARS

__all__ = ["invalid", "shown"]


def invalid(kind: str, message: str) -> PydanticCustomError:
    # The text goes in as context so braces in user input are never taken as placeholders.
    return PydanticCustomError(kind, "{message}", {"message": message})


def shown(value: object) -> str:
    """``repr(value)`` for a message, cut to ``MAX_SHOWN_CHARS`` characters (the rest counted)."""
    text = repr(value)
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:MAX_SHOWN_CHARS]}… ({len(text):,} characters)"
