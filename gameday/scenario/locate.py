"""Where a validation error points in the YAML document: its line and its YAML path.

Pydantic locates an error by a tuple of keys and indices (``("timeline", 1, "latency",
"latency_ms")``); this walks the same tuple down the composed YAML nodes, which carry marks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import yaml

__all__ = ["ChildIndex", "Located", "format_path", "locate", "mapping_entries", "path_at"]

DISCRIMINATOR_KEYS = ("fault", "action")
"""Keys whose value selects a model (and which pydantic adds to an error's location)."""

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Located:
    line: int | None
    yaml_path: str


def format_path(parts: Sequence[int | str]) -> str:
    """``timeline[1].latency_ms``, ``expect["rto.failover"].max``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def mapping_entries(node: yaml.MappingNode) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    for key_node, value_node in node.value:
        yield str(key_node.value), key_node, value_node


ChildIndex = dict[int, dict[str, yaml.Node]]
"""Each mapping node's values by key (the first of a repeated key), built once per mapping."""


def _child(node: yaml.Node, part: int | str, index: ChildIndex) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        values = index.get(id(node))
        if values is None:
            values = index[id(node)] = {}
            for key, _, value in mapping_entries(node):
                values.setdefault(key, value)
        return values.get(part)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None


def _is_discriminator_tag(node: yaml.Node, part: int | str) -> bool:
    return isinstance(node, yaml.MappingNode) and any(
        key in DISCRIMINATOR_KEYS and isinstance(value, yaml.ScalarNode) and value.value == str(part)
        for key, _, value in mapping_entries(node)
    )


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def locate(root: yaml.Node, loc: Sequence[int | str], index: ChildIndex | None = None) -> Located:
    """The line of the deepest node ``loc`` reaches and the YAML path it names.

    A key that is absent (a missing required key) is kept in the path and points at its
    mapping's line; parts past a scalar (a bare ``orders.ghost: 0``) are dropped. Locating many
    errors in one document, pass the same ``index`` to each call (a mapping is then scanned once).
    """
    index = {} if index is None else index
    node = root
    parts: list[int | str] = []
    reached = True
    for part in loc:
        if part == "[key]":  # pydantic's marker for an error in a dict key: point at the key itself
            continue
        if not reached or isinstance(node, yaml.ScalarNode):
            if not isinstance(node, yaml.ScalarNode):
                parts.append(part)
            continue
        child = _child(node, part, index)
        if child is not None:
            node = child
            parts.append(part)
        elif _is_discriminator_tag(node, part):
            continue
        else:
            parts.append(part)
            reached = False
    return Located(line=_line(node), yaml_path=format_path(parts))


def path_at(root: yaml.Node, mark: yaml.Mark) -> str:
    """The YAML path of the scalar (a value or a mapping key) that starts at ``mark``, ``""`` when
    none does. Each node is visited once however many aliases share it."""
    seen: set[int] = set()
    pending: list[tuple[yaml.Node, tuple[int | str, ...]]] = [(root, ())]
    while pending:
        node, parts = pending.pop()
        if isinstance(node, yaml.ScalarNode) and node.start_mark.index == mark.index:
            return format_path(parts)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, key_node, value in mapping_entries(node):
                pending += [(value, (*parts, key)), (key_node, (*parts, key))]
        elif isinstance(node, yaml.SequenceNode):
            pending += [(item, (*parts, index)) for index, item in enumerate(node.value)]
    return ""
