"""How much a scenario file may ask for: each limit, and why it is where it is.

A scenario is read before anything runs, from a file anyone may hand the harness. These limits keep
the loader fast and its memory bounded whatever the file holds, and refuse at load time values the
run could never carry out (a workload of a thousand years, a billion orders a second). Each one is
far above what a game day needs: the catalog's largest file is under 3 KB, its longest workload
10 minutes, its highest rate 550 orders/s.
"""

from __future__ import annotations

__all__ = [
    "MAX_ACTIONS",
    "MAX_DURATION_NS",
    "MAX_FILE_BYTES",
    "MAX_INT64",
    "MAX_LISTED_PROBLEMS",
    "MAX_MESSAGE_CHARS",
    "MAX_ORDERS_PER_SECOND",
    "MAX_SHOWN_CHARS",
    "MAX_SYMBOLS",
    "MAX_TIMELINE_OCCURRENCES",
    "MAX_YAML_ALIASES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "NS_PER_HOUR",
]

MAX_FILE_BYTES = 1 << 20
"""1 MiB: ~400 times the catalog's largest file, and enough for 10,000 faults written one by one.
Parsing a full MiB of YAML takes a few seconds in pure Python; larger files are refused unread."""

MAX_YAML_NODES = 200_000
"""Nodes of the document with every alias expanded (what validation walks): 10,000 faults of
~10 nodes each fit twice over; a billion-laughs file is refused after a few of its levels."""

MAX_YAML_ALIASES = 1_000
"""Alias uses (``*name``) in one document: anchors save repetition, they do not multiply it."""

MAX_YAML_DEPTH = 32
"""Nesting levels (the top mapping is 1): a scenario needs 6; validation recurses per level."""

MAX_INT64 = (1 << 63) - 1
"""Integers are 64-bit signed: what the stack's consumers (Toxiproxy, JSON peers, Postgres) take.
Python's own limit (4,300 digits, then ``ValueError``) is never reached."""

NS_PER_HOUR = 3_600_000_000_000

MAX_DURATION_NS = 24 * NS_PER_HOUR
"""24 h, for every duration a scenario writes (workload, ``at``, ``for``, ``every``, ``until``,
probe intervals, action ``grace``, a bound in seconds); the venue's own faults stop at 24 h too."""

MAX_ORDERS_PER_SECOND = 10_000.0
"""The steady rate and each burst's: 18 times the catalog's highest, beyond what one client drives."""

MAX_TIMELINE_OCCURRENCES = 10_000
"""Faults on the timeline once every repeat is expanded: each is a start and a heal in the history."""

MAX_ACTIONS = 10_000
"""Operator actions, as many as fault occurrences."""

MAX_SYMBOLS = 1_000
"""Workload symbols (the venue lists at most as many)."""

MAX_SHOWN_CHARS = 80
"""A value quoted back in an error message is cut to this many characters."""

MAX_MESSAGE_CHARS = 2_000
"""One problem's message is cut to this many characters (the longest the models write, a list of
every checker name, is under 1,000)."""

MAX_LISTED_PROBLEMS = 100
"""Problems one error lists; the last line then counts the ones left out."""
