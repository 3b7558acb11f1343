"""Turn pydantic validation errors into :class:`ScenarioProblem` s a person can act on.

Each problem names the file, the line, the YAML path and what was expected there.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gameday.errors import ScenarioProblem
from gameday.scenario.invalid import shown
from gameday.scenario.locate import DISCRIMINATOR_KEYS, ChildIndex, locate

__all__ = ["problems_from_validation"]

_SHAPE_MESSAGES = {
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "string_type": "expected a string",
}
_PREFIXES = (("Input should be ", "expected "), ("Value error, ", ""), ("Assertion failed, ", ""))


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _union_members(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return ()


def _tag_of(model: Any) -> str | None:
    for key in DISCRIMINATOR_KEYS:
        field = model.model_fields.get(key) if _is_model(model) else None
        if field is not None and field.default is not None:
            return str(field.default)
    return None


def _unwrapped(annotation: Any) -> Any:
    """``X`` for ``Annotated[X, ...]`` and for an optional ``X | None``."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    present = [member for member in _union_members(annotation) if member is not type(None)]
    return present[0] if len(present) == 1 else annotation


def _step(annotation: Any, part: int | str) -> Any:
    """The annotation of what ``part`` selects inside a value of type ``annotation``."""
    annotation = _unwrapped(annotation)
    if _is_model(annotation):
        by_key = {field.alias or name: field.annotation for name, field in annotation.model_fields.items()}
        return by_key.get(str(part))
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (tuple, list) and isinstance(part, int) and args:
        return args[0]
    if origin is dict and isinstance(part, str) and len(args) == 2:
        return args[1]
    return next((member for member in _union_members(annotation) if _tag_of(member) == str(part)), None)


def _annotation_at(root: type[BaseModel], loc: Sequence[int | str]) -> Any:
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
        if annotation is None:
            return None
    return _unwrapped(annotation)


def _keys_of(root: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    model = _annotation_at(root, loc)
    if not _is_model(model):
        return []
    keys: tuple[str, ...] | None = getattr(model, "yaml_keys", None)
    if keys is not None:
        return list(keys)
    return [field.alias or name for name, field in model.model_fields.items()]


def _tags_at(root: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    element = _annotation_at(root, loc)
    if element is None:
        return []
    members = _union_members(element)
    return [tag for tag in (_tag_of(member) for member in members) if tag is not None]


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return shown(value)


def _expected(error: ErrorDetails, root: type[BaseModel]) -> str:
    kind, loc, value = error["type"], error["loc"], error.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        keys = _keys_of(root, loc[:-1])
        if not keys:  # a section the target validates with a model of its own, unseen here
            return "unknown key (the target's schema for this section has no such field)"
        return f"unknown key; expected one of: {', '.join(keys)}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ", ".join(_tags_at(root, loc))
        tag = (error.get("ctx") or {}).get("tag")
        if tag is None:
            return f"required key is missing; expected a fault, one of: {tags}"
        return f"unknown fault {shown(tag)}; expected one of: {tags}"
    message = _SHAPE_MESSAGES.get(kind, error["msg"])
    for prefix, replacement in _PREFIXES:
        if message.startswith(prefix):
            message = replacement + message[len(prefix):]
    if ", got " not in message:
        message += f", got {_shown(value)}"
    return message


def _where(error: ErrorDetails) -> tuple[int | str, ...]:
    loc = tuple(error["loc"])
    if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
        return (*loc, DISCRIMINATOR_KEYS[0])
    return loc


def problems_from_validation(error: ValidationError, root_node: yaml.Node, file: str,
                             model: type[BaseModel]) -> list[ScenarioProblem]:
    problems = []
    index: ChildIndex = {}
    for detail in error.errors(include_url=False):
        located = locate(root_node, _where(detail), index)
        problems.append(ScenarioProblem(file=file, line=located.line, yaml_path=located.yaml_path,
                                        message=_expected(detail, model)))
    return problems
