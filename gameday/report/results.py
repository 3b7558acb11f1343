"""``results.json``: the graded run as data, readable back into a :class:`RunResult`.

An aborted or interrupted run says so in ``run_status`` and why in ``abort_reason``.
"""

from __future__ import annotations

from gameday.verdict import RunResult

__all__ = ["read_results_json", "results_json"]


def results_json(result: RunResult) -> str:
    return result.model_dump_json(indent=2) + "\n"


def read_results_json(text: str) -> RunResult:
    return RunResult.model_validate_json(text)
