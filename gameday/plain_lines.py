"""Lines on standard output, coloured only when it is a terminal (``NO_COLOR`` honoured): what a
command prints when it should not pay for a terminal library's import."""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["PlainLines"]

_GREEN, _BOLD_RED, _RESET = "\x1b[32m", "\x1b[1;31m", "\x1b[0m"


class PlainLines:
    def __init__(self, out: TextIO | None = None) -> None:
        self._out = out if out is not None else sys.stdout
        self._colour = self._out.isatty() and not os.environ.get("NO_COLOR")

    def ok(self, word: str, text: str) -> None:
        self._write(f"{_GREEN}{word}{_RESET}" if self._colour else word, text)

    def error(self, text: str) -> None:
        self._write("", f"{_BOLD_RED}{text}{_RESET}" if self._colour else text)

    def _write(self, word: str, text: str) -> None:
        self._out.write(f"{word} {text}\n" if word else f"{text}\n")
        self._out.flush()
