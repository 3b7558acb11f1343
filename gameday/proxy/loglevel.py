"""``LOG_LEVEL``, read as toxiproxy-server reads it (zerolog's level names and numbers).

``trace``, ``debug``, ``info``, ``warn``, ``error``, ``fatal``, ``panic`` and ``disabled`` (any
case), ``""`` (nothing is logged, as zerolog's NoLevel) or a number from -128 to 127 (-1 trace,
0 debug, ... 5 panic, 6 and over nothing). Any other value is reported and the default kept, as
toxiproxy-server does. Unset, this server logs ``info`` and above; toxiproxy-server logs
everything. Logs go to stderr (toxiproxy-server's go to stdout, which here carries the READY line).
"""

from __future__ import annotations

import logging
import re

TRACE = 5  # below logging.DEBUG
DEFAULT = logging.INFO
_NAMES = {"trace": -1, "debug": 0, "info": 1, "warn": 2, "error": 3, "fatal": 4, "panic": 5, "": 6,
          "disabled": 7}
_BY_ZEROLOG = {-1: TRACE, 0: logging.DEBUG, 1: logging.INFO, 2: logging.WARNING, 3: logging.ERROR,
               4: logging.CRITICAL, 5: logging.CRITICAL}
NOTHING = logging.CRITICAL + 1
_NUMBER = re.compile(r"[+-]?[0-9]{1,4}")  # what Go's strconv.Atoi reads, short enough to bound


class UnknownLevel(ValueError):
    """A ``LOG_LEVEL`` toxiproxy-server would not take either."""


def parse(value: str) -> int:
    """The :mod:`logging` threshold ``value`` stands for; UnknownLevel if none."""
    zerolog = _NAMES.get(value.lower())
    if zerolog is None:
        if not (value.isascii() and _NUMBER.fullmatch(value) and -128 <= int(value) <= 127):
            raise UnknownLevel(f'unknown LOG_LEVEL value: "{value}"')
        zerolog = int(value)
    if zerolog < -1:
        return TRACE
    return _BY_ZEROLOG.get(zerolog, NOTHING)


def configure(value: str | None) -> None:
    """Log to stderr at the threshold ``value`` names (``None``: unset, the default)."""
    logging.addLevelName(TRACE, "TRACE")
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=DEFAULT)
    if value is None:
        return
    try:
        logging.getLogger().setLevel(parse(value))
    except UnknownLevel as exc:
        logging.getLogger("gameday.proxy").error("%s", exc)
