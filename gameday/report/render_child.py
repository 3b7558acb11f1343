"""The readable reports of one run, rendered in a process of their own (:mod:`gameday.report.renderer`).

``python -m gameday.report.render_child`` imports what rendering needs (matplotlib, the report
modules) at once, then reads one line from stdin: the directory of a graded run, as a JSON string
(its ``results.json`` and ``history.jsonl`` written). It writes ``report-data.json``,
``summary.md`` and ``report.html`` there and exits 0; on a failure it prints one line to stderr and
exits 1. An empty line or the end of stdin (no graded run came) exits 0 having written nothing.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

PRELOADED = ("matplotlib.figure", "matplotlib.backends.backend_svg", "gameday.report.pages",
             "gameday.report.results")


def _preload() -> None:
    """What rendering imports, imported while the parent stops the stack and grades the run."""
    for module in PRELOADED:
        importlib.import_module(module)


def render(run_dir: Path) -> None:
    from gameday.history import HISTORY_FILE, read_history
    from gameday.report.files import RESULTS_JSON
    from gameday.report.pages import write_readable_reports
    from gameday.report.results import read_results_json

    result = read_results_json((run_dir / RESULTS_JSON).read_text(encoding="utf-8"))
    write_readable_reports(result, read_history(run_dir / HISTORY_FILE), run_dir)


def main() -> int:
    _preload()
    line = sys.stdin.readline().strip()
    if not line:
        return 0
    try:
        render(Path(json.loads(line)))
    except Exception as failure:
        first_line = (str(failure).splitlines() or [""])[0]
        print(f"{type(failure).__name__}: {first_line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
