"""``python examples/acme_oms/oms.py ...``: the Acme OMS as a script, from any directory.

Run as a script, this file's directory is on ``sys.path`` but its package is not: the parent
directory (``examples/``, which also holds ``cold_standby_oms``) is added.
"""

from __future__ import annotations

import sys
from pathlib import Path


def run() -> int:
    package_parent = str(Path(__file__).resolve().parent.parent)
    if package_parent not in sys.path:
        sys.path.insert(0, package_parent)
    from acme_oms.cli import main

    return main()


if __name__ == "__main__":
    raise SystemExit(run())
