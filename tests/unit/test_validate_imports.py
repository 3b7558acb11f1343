"""``gameday validate`` imports only what validation needs (issue 21: ≤ 0.3 s for one file), and the
checker catalog it validates against stays the default registry's twin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gameday.checkers import DEFAULT_CHECKERS, ContextualChecker
from gameday.scenario.checker_catalog import CHECKER_CATALOG
from gameday.units import Unit

ROOT = Path(__file__).parents[2]
NOT_FOR_VALIDATION = ("asyncio", "aiohttp", "asyncpg", "matplotlib", "gameday.checkers", "gameday.runner",
                      "trading_stack.deploy", "trading_stack.market_data", "mock_exchange.config",
                      "mock_exchange.venue", "rich", "prometheus_client")
VALIDATE = """
import json, sys
from gameday.cli import main
try:
    main(["validate", sys.argv[1]])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _validate_in_a_fresh_interpreter(scenario: Path) -> tuple[int, list[str]]:
    done = subprocess.run([sys.executable, "-c", VALIDATE, str(scenario)], capture_output=True, text=True,
                          cwd=ROOT, check=True, timeout=60)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["code"], result["modules"]


def test_validate_imports_no_checker_runtime_or_service() -> None:
    code, modules = _validate_in_a_fresh_interpreter(ROOT / "scenarios" / "failover-primary-crash.yaml")
    assert code == 0
    imported = [name for name in modules if name.startswith(NOT_FOR_VALIDATION)]
    assert imported == []


def test_a_scenario_with_the_reference_target_sections_imports_their_models_and_validates() -> None:
    with_deploy = next(path for path in sorted((ROOT / "scenarios").glob("*.yaml"))
                       if "\n  deploy:" in path.read_text())
    code, modules = _validate_in_a_fresh_interpreter(with_deploy)
    assert code == 0
    assert "trading_stack.deploy.config" in modules


def test_the_catalog_names_every_default_checker_with_its_unit_and_options() -> None:
    def options(checker: object) -> frozenset[str]:
        return checker.options if isinstance(checker, ContextualChecker) else frozenset()

    registry: dict[str, tuple[Unit, frozenset[str], frozenset[str]]] = {
        name: (checker.unit, options(checker), getattr(checker, "required_options", frozenset()))
                for name, checker in DEFAULT_CHECKERS.items()}
    catalog = {name: (spec.unit, spec.options, spec.required_options)
               for name, spec in CHECKER_CATALOG.items()}
    missing = sorted(registry.keys() - catalog.keys())
    assert missing == [], f"add {missing} to gameday/scenario/checker_catalog.py"
    assert catalog == registry
