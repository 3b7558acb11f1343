"""``BoundedLoader``: PyYAML's safe loader with limits on what one document may make it build.

The safe loader builds nothing dangerous, but what it builds can still be huge or endless for
everything that walks it afterwards (duplicate-key checks, validation, error location):

* aliases share one node, so a few hundred bytes of ``&a [*a, *a, …]`` levels expand to a billion
  nodes ("billion laughs"): aliases are counted, and so is the size of the document with every alias
  expanded (:data:`~gameday.scenario.limits.MAX_YAML_NODES`), as it is composed;
* an alias inside the node it names (``&a [*a]``) makes a cycle: refused;
* ``[[[[…`` nests as deep as the file is long: refused past
  :data:`~gameday.scenario.limits.MAX_YAML_DEPTH` levels, before Python's recursion limit;
* an integer beyond 64 bits is refused before Python converts it (4,300 digits raise ``ValueError``);
* a scalar its tag cannot read (``!!int abc``, ``2026-13-45``) is an error at its line, not a
  ``ValueError`` out of the constructor.

Each refusal is a :class:`YamlRefusal` carrying the mark of the node that crossed the line; the loader
reports it with that line (and, for a scalar, its YAML path).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.error import MarkedYAMLError
from yaml.events import AliasEvent, Event

from gameday.scenario.invalid import shown
from gameday.scenario.limits import MAX_INT64, MAX_YAML_ALIASES, MAX_YAML_DEPTH, MAX_YAML_NODES

__all__ = ["BoundedLoader", "YamlRefusal"]

_INT_TAG = "tag:yaml.org,2002:int"
_MAX_INT_TEXT = 100
"""Characters of an integer's text read at all (underscores and ``0b`` included; 64 bits fit)."""
_SCALAR_FAILURES = (ValueError, KeyError, AttributeError, OverflowError, TypeError)


_SURROGATE = re.compile("[\ud800-\udfff]")
"""A double-quoted YAML scalar may escape one (``"\\ud800"``); UTF-8, and every report, cannot hold it."""


class YamlRefusal(MarkedYAMLError):
    """Well-formed YAML the loader does not build: beyond a limit, or a scalar its tag cannot read
    (``problem`` says which, ``problem_mark`` where)."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)


class BoundedLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that refuses documents beyond the limits above (one document per loader)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded_nodes = 0
        self._aliases = 0
        self._depth = 0
        self._expanded_size: dict[int, int] = {}
        """id of each anchored node composed so far -> its size with aliases expanded"""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Event = self.peek_event()
        if isinstance(event, AliasEvent):
            self._alias(event)
            return super().compose_node(parent, index)
        if self._depth >= MAX_YAML_DEPTH:
            raise YamlRefusal(f"nested more than {MAX_YAML_DEPTH} levels deep; expected at most "
                                 f"{MAX_YAML_DEPTH}", event.start_mark)
        before = self._expanded_nodes
        self._count(1, event.start_mark)
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if getattr(event, "anchor", None) is not None:
            self._expanded_size[id(node)] = self._expanded_nodes - before
        return node

    def _alias(self, event: AliasEvent) -> None:
        self._aliases += 1
        if self._aliases > MAX_YAML_ALIASES:
            raise YamlRefusal(f"more than {MAX_YAML_ALIASES} aliases (*name); expected at most "
                                 f"{MAX_YAML_ALIASES}", event.start_mark)
        target = self.anchors.get(event.anchor)
        if target is None:
            return  # PyYAML reports the undefined alias
        size = self._expanded_size.get(id(target))
        if size is None:
            raise YamlRefusal(f"alias *{event.anchor} is inside the node &{event.anchor} it names; "
                                 "expected no recursive alias", event.start_mark)
        self._count(size, event.start_mark)

    def _count(self, nodes: int, mark: Any) -> None:
        self._expanded_nodes += nodes
        if self._expanded_nodes > MAX_YAML_NODES:
            raise YamlRefusal(f"the document expands to more than {MAX_YAML_NODES:,} nodes (values, "
                                 f"keys, lists and mappings, each alias counted as what it repeats); "
                                 f"expected at most {MAX_YAML_NODES:,}", mark)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            return super().construct_object(node, deep)
        if isinstance(node.value, str) and _SURROGATE.search(node.value):
            raise YamlRefusal("an escaped surrogate (\\ud800-\\udfff) is half of a UTF-16 pair, not a "
                              "character; expected text that UTF-8 can hold", node.start_mark)
        try:
            return super().construct_object(node, deep)
        except _SCALAR_FAILURES as failure:
            tag = str(node.tag).rsplit(":", 1)[-1]
            raise YamlRefusal(f"cannot read {shown(node.value)} as {tag}: {failure}",
                              node.start_mark) from None

    def construct_bounded_int(self, node: yaml.ScalarNode) -> int:
        text = str(node.value)
        digits = sum(character.isdigit() for character in text)
        if len(text) <= _MAX_INT_TEXT:
            value: int = self.construct_yaml_int(node)
            if -MAX_INT64 - 1 <= value <= MAX_INT64:
                return value
        raise YamlRefusal(f"an integer of {digits:,} digits; expected a 64-bit integer (at most "
                             f"{MAX_INT64:,} either side of 0)", node.start_mark)


BoundedLoader.add_constructor(_INT_TAG, BoundedLoader.construct_bounded_int)
