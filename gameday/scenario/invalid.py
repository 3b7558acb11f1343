"""``invalid``: the validation error our validators raise, its text used verbatim.

Messages say what was expected (``expected a duration such as '100ms'``); the loader adds
where (file, line, YAML path) and what was found (``got 'soon'``).
"""

from __future__ import annotations

from pydantic_core import PydanticCustomError

__all__ = ["invalid"]


def invalid(kind: str, message: str) -> PydanticCustomError:
    # The text goes in as context so braces in user input are never taken as placeholders.
    return PydanticCustomError(kind, "{message}", {"message": message})
