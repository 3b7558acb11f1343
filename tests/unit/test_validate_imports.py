"""``gameday validate`` imports only what validation needs (issue 21: ≤ 0.3 s for one file), and the
checker catalog it validates against stays the default registry's twin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gameday.checker_specs import CHECKER_CATALOG
from gameday.checkers import DEFAULT_CHECKERS, ContextualChecker

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


def test_the_catalog_is_the_default_checkers_specs() -> None:
    carried = {name: getattr(checker, "spec", None) for name, checker in DEFAULT_CHECKERS.items()}
    assert carried == dict(CHECKER_CATALOG), "a default checker carries its spec (gameday/checker_specs.py)"


def test_a_default_checker_that_takes_options_reads_the_grading_context() -> None:
    taking = {name for name, spec in CHECKER_CATALOG.items() if spec.options}
    contextual = {name for name, checker in DEFAULT_CHECKERS.items()
                  if isinstance(checker, ContextualChecker)}
    assert taking == contextual


def test_a_default_checker_answers_with_its_specs_name_unit_and_options() -> None:
    for name, checker in DEFAULT_CHECKERS.items():
        spec = CHECKER_CATALOG[name]
        options = checker.options if isinstance(checker, ContextualChecker) else frozenset()
        assert (checker.name, checker.unit, options) == (spec.name, spec.unit, spec.options)
