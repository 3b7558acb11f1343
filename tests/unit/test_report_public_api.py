"""The curated public API of the pure core: every exported name exists and nothing private leaks."""

import importlib

import pytest

MODULES = ["gameday.scenario", "gameday.checkers", "gameday.report", "gameday.verdict", "gameday.errors"]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist_and_are_public(name: str) -> None:
    module = importlib.import_module(name)

    assert module.__all__, f"{name} exports nothing"
    assert [symbol for symbol in module.__all__ if not hasattr(module, symbol)] == []
    assert [symbol for symbol in module.__all__ if symbol.startswith("_")] == []


def test_the_entry_points_the_runner_and_cli_use() -> None:
    from gameday.checkers import DEFAULT_CHECKERS
    from gameday.report import console_report, write_reports
    from gameday.scenario import load_scenario
    from gameday.verdict import grade_run

    assert callable(load_scenario)
    assert callable(grade_run)
    assert callable(write_reports)
    assert callable(console_report)
    assert "rto.failover" in DEFAULT_CHECKERS
