"""trading_stack.deploy: each module exports exactly what it defines for others, and nothing it lacks."""

import importlib
import inspect
from types import ModuleType

import pytest

import trading_stack.deploy as package

SUBMODULES = [
    "actions", "breaker", "config", "deployer", "driver", "gate", "http_executor", "market_clock", "outputs",
    "plans", "positions", "scheduler", "service", "service_api", "service_config", "timeline", "verifier",
    "versions",
]


def defined_in(module: ModuleType) -> set[str]:
    """Public classes and functions whose home is ``module`` (not imported into it)."""
    return {
        name for name, value in vars(module).items()
        if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    }


@pytest.mark.parametrize("name", SUBMODULES)
def test_a_module_exports_every_class_and_function_it_defines(name: str) -> None:
    module = importlib.import_module(f"trading_stack.deploy.{name}")

    assert sorted(defined_in(module) - set(module.__all__)) == []
    assert sorted(symbol for symbol in module.__all__ if not hasattr(module, symbol)) == []


def test_the_package_re_exports_only_names_its_modules_export() -> None:
    modules = [importlib.import_module(f"trading_stack.deploy.{name}") for name in SUBMODULES]
    exported_below = {symbol for module in modules for symbol in module.__all__}

    assert sorted(set(package.__all__) - exported_below) == []
    assert sorted(symbol for symbol in package.__all__ if not hasattr(package, symbol)) == []
