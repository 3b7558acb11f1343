"""Load a target file's OMS adapter (``oms.adapter``): the class named there, built with its options.

Only what the file names is loaded: a Python file (a path relative to the target file) or an importable
module, then the class in it, which must subclass :class:`~gameday.oms_api.ContractApi` and keep every
operation it overrides an ``async def``; it is built with ``options`` as keyword arguments, and the
file's ``routes`` rename routes of that instance. Each failure is an :class:`AdapterError` naming the
key of ``oms.adapter`` at fault and what was expected there; the target file loader turns it into a
located problem.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from gameday.oms_api import ContractApi, OmsApi
from gameday.oms_api_routes import OmsOp, Route

__all__ = ["OPERATIONS", "AdapterError", "build_adapter", "is_file_reference"]

OPERATIONS = ("role", "health", "deep_health", "positions", "open_orders", "place", "place_raw", "cancel",
              "kill_switch", "flatten", "set_risk_limit", "deploy", "rollback")
"""The methods of :class:`~gameday.oms_api.ContractApi` an adapter may override (each ``async def``)."""
_MODULE_PREFIX = "gameday_oms_adapter_"


class AdapterError(Exception):
    """An adapter that cannot be loaded or built; ``where`` is the path below ``oms.adapter`` at fault
    (``("class",)``, ``("routes", "cancel")``)."""

    def __init__(self, key: str, message: str, *more: str) -> None:
        super().__init__(message)
        self.where = (key, *more)


def is_file_reference(module: str) -> bool:
    """``./adapters/acme.py`` names a file; ``acme_gameday.adapter`` an importable module."""
    return module.endswith(".py") or "/" in module or "\\" in module


def build_adapter(module: str | None, class_name: str | None, options: Mapping[str, Any],
                  routes: Mapping[OmsOp, str], *, base_dir: Path) -> OmsApi:
    """The adapter a target file names (relative paths from ``base_dir``, the target file's directory)."""
    if module is None or class_name is None:
        api: ContractApi = ContractApi()
    else:
        api = _construct(_adapter_class(_load_module(module, base_dir), module, class_name), options)
    if routes:
        api.routes = {**api.routes, **{op: _route(op, text) for op, text in routes.items()}}
    return api


def _route(op: OmsOp, text: str) -> Route:
    try:
        return Route.parse(text, op)
    except ValueError as error:
        raise AdapterError("routes", str(error), op.value) from None


def _load_module(module: str, base_dir: Path) -> ModuleType:
    if not is_file_reference(module):
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is not None and (module == error.name or module.startswith(f"{error.name}.")):
                raise AdapterError("module", f"expected a Python file (*.py, relative to the target file) "
                                             f"or an importable module, got {module!r}: no module named "
                                             f"{error.name!r}") from None
            raise _does_not_load(module, error) from None
        except (Exception, SystemExit) as error:
            raise _does_not_load(module, error) from None
    path = (base_dir / module).resolve()
    if not path.is_file():
        raise AdapterError("module", f"expected a Python file (relative to the target file), got {module!r}: "
                                     f"{path} is not a file")
    name = _MODULE_PREFIX + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AdapterError("module", f"expected a Python file, got {module!r}: {path} cannot be imported")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded  # dataclasses and pickling look a class's module up by name
    try:
        spec.loader.exec_module(loaded)
    except (Exception, SystemExit) as error:
        sys.modules.pop(name, None)
        raise _does_not_load(module, error) from None
    return loaded


def _does_not_load(module: str, error: BaseException) -> AdapterError:
    return AdapterError("module", f"expected a module that loads, got {module!r}: "
                                  f"{type(error).__name__}: {_one_line(error)}")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]


def _adapter_class(loaded: ModuleType, module: str, class_name: str) -> type[ContractApi]:
    found = getattr(loaded, class_name, None)
    if found is None:
        defined = sorted(name for name, value in vars(loaded).items()
                         if inspect.isclass(value) and issubclass(value, ContractApi)
                         and value is not ContractApi)
        hint = f" (it defines {', '.join(defined)})" if defined else " (it defines no ContractApi subclass)"
        raise AdapterError("class", f"expected the name of a class in {module}, got {class_name!r}{hint}")
    if not inspect.isclass(found) or not issubclass(found, ContractApi):
        what = f"class {found.__name__}" if inspect.isclass(found) else f"a {type(found).__name__}"
        raise AdapterError("class", f"expected a subclass of gameday.oms_api.ContractApi, got "
                                    f"{class_name!r}, {what}")
    for operation in OPERATIONS:
        method = getattr(found, operation)
        if not inspect.iscoroutinefunction(method):
            raise AdapterError("class", f"expected {class_name}.{operation} to be an async def, got a "
                                        f"{type(method).__name__}")
    routes = getattr(found, "routes", None)
    if not isinstance(routes, Mapping) or not all(isinstance(op, OmsOp) and isinstance(route, Route)
                                                  for op, route in routes.items()):
        raise AdapterError("class", f"expected {class_name}.routes to map OmsOp to Route "
                                    f"(gameday.oms_api.contract_routes), got {type(routes).__name__}")
    if missing := [op.value for op in OmsOp if op not in routes]:
        raise AdapterError("class", f"expected {class_name}.routes to give every operation a route "
                                    f"(gameday.oms_api.contract_routes), got none for {', '.join(missing)}")
    return found


def _construct(cls: type[ContractApi], options: Mapping[str, Any]) -> ContractApi:
    try:
        return cls(**options)
    except Exception as error:
        raise AdapterError("options", f"expected options {cls.__name__} accepts, got "
                                      f"{cls.__name__}(**options) raising {type(error).__name__}: "
                                      f"{_one_line(error)}") from None
