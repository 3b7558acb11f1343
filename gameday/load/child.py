"""``python -m gameday.load.child CONFIG``: the load child, locust's own process.

Importing locust monkey-patches the standard library for gevent, so it is imported here, first,
in a process of its own, and never in the harness's (``lint-imports`` holds the harness to that).
The work is in :mod:`gameday.load.driver`.
"""

from __future__ import annotations

import locust  # noqa: F401  # first: gevent patches the standard library before anything uses it

from gameday.load.driver import main

if __name__ == "__main__":
    main()
