"""Mutated catalog scenarios (issue 15): whatever value lands at whatever YAML path, ``parse_scenario``
returns a :class:`Scenario` or raises :class:`ScenarioError` (never another exception), within 2 s,
with problems that print as bounded lines without control characters.

Each example takes a catalog scenario, puts one to three hostile YAML fragments at random paths (a
value replaced, a list item appended, a key added) and parses the text: huge, negative, NaN and
infinite numbers, integers beyond 64 bits and 4,300 digits, strings with control characters, rich
markup and format placeholders, raw control bytes, deep nesting, aliases (recursive, billion laughs,
undefined), tags that cannot read their scalar.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gameday.errors import ScenarioError
from gameday.scenario import Scenario, parse_scenario
from gameday.scenario.limits import MAX_MESSAGE_CHARS

REPO = Path(__file__).parents[2]
PATHS = [*(REPO / "scenarios").glob("*.yaml"), *(REPO / "bench" / "scenarios").glob("*.yaml")]
CATALOG = {path.name: yaml.safe_load(path.read_text()) for path in sorted(PATHS)}
BOUND_S = 5.0
"""A hang, not a speed: one parse takes ~50 ms idle, and CI runs this beside the detection matrix."""
PLACEHOLDER = "hostile-fragment-{}"


def _float_text(number: float) -> str:
    if number != number:
        return ".nan"
    if number in (float("inf"), float("-inf")):
        return ".inf" if number > 0 else "-.inf"
    return repr(number)


def _nested(depth: int, mapping: bool) -> str:
    return ("{a: " * depth + "1" + "}" * depth) if mapping else ("[" * depth + "1" + "]" * depth)


def _billion_laughs() -> str:
    levels = ["&la [" + ", ".join(["lol"] * 9) + "]"]
    levels += [f"&l{name} [{', '.join([f'*l{previous}'] * 9)}]"
               for previous, name in zip("abcdefgh", "bcdefghi", strict=True)]
    return f"[{', '.join(levels)}]"


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(_float_text),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
    st.sampled_from(["9" * 4301, "-" + "9" * 5000, "9223372036854775808", "-9223372036854775809",
                     "0x" + "f" * 40, "0b" + "1" * 80, "1" + ":59" * 40, "1e400", "1.0e+400", "-0.0", "0",
                     "1_000_000_000_000_000_000_000", "24h", "24.000001h", "999999h", "1e308s", "-1s",
                     "0.0000000001s", "99999999999999999999999999999999h", ".5", "1:00"]),
)
STRINGS = st.one_of(
    st.text(st.characters(exclude_categories=()), max_size=40).map(json.dumps),
    st.sampled_from(["[/]", "'[bold red]x[/]'", "'[link=file:///etc/passwd]x[/link]'", '"\\e[2J\\e[31m"',
                     '"\\0\\a\\b"', '"\\u202e\\ufeff"', '"\\ud800"', "'{message}'", "'%s%n'", "'{0!r}'",
                     "X" * 100_000, "'" + "é" * 5000 + "'"]),
)
RAW_BYTES = st.sampled_from(["a\x00b", "\x1b[31mred", "x\x7fy", "line\u2028break", "\ufeffbom", "\x85"])
STRUCTURES = st.one_of(
    st.builds(_nested, st.integers(min_value=1, max_value=300), st.booleans()),
    st.integers(min_value=0, max_value=5000).map(lambda count: "[" + ", ".join(["1"] * count) + "]"),
    st.sampled_from(["&r [1, *r]", "&m {a: *m}", _billion_laughs(), "[&y 1, *y, *y]", "*undefined",
                     "{<<: [*undefined]}", "[]", "{}", "~", "''", "!!int abc", "!!float x", "!!bool maybe",
                     "!!timestamp 2026-99-99", "2026-13-45", "2026-02-30T25:61:00", "!!binary '==='",
                     "!!python/object/apply:os.system [true]", "!!set {a, b}", "!!omap [a]", "? [a]",
                     "{? [a, b]: 1}", "!!str", "!custom x", "|\n  x", "--- x", "... ", "@x", "`x", "%YAML"]),
)
FRAGMENTS = st.one_of(NUMBERS, STRINGS, RAW_BYTES, STRUCTURES)
NEW_KEYS = ["x", "at", "for", "every", "until", "count", "max", "hold", "seed", "id", "bursts", "params"]


def _children(node: Any) -> list[tuple[Any, Any]]:
    if isinstance(node, dict):
        return list(node.items())
    if isinstance(node, list):
        return list(enumerate(node))
    return []


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> str:
    """A catalog scenario's YAML with one to three hostile fragments at random places."""
    document = json.loads(json.dumps(CATALOG[draw(st.sampled_from(sorted(CATALOG)))]))
    fragments = draw(st.lists(FRAGMENTS, min_size=1, max_size=3))
    for number in range(len(fragments)):
        parent, key = None, None
        node = document
        while _children(node) and (parent is None or draw(st.booleans())):
            parent = node
            key, node = draw(st.sampled_from(_children(node)))
        token = PLACEHOLDER.format(number)
        how = draw(st.sampled_from(["replace", "append", "add-key"]))
        if how == "append" and isinstance(node, list):
            node.append(token)
        elif how == "add-key" and isinstance(node, dict):
            node[draw(st.sampled_from(NEW_KEYS))] = token
        elif parent is not None:
            parent[key] = token
        else:
            document = token
    text = yaml.safe_dump(document, sort_keys=False, width=1_000_000, allow_unicode=True)
    for number, fragment in enumerate(fragments):
        text = text.replace(PLACEHOLDER.format(number), fragment)
    return text


@pytest.mark.timeout(600)
@settings(max_examples=300, deadline=timedelta(seconds=BOUND_S), database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_scenarios())
def test_a_mutated_catalog_scenario_is_a_scenario_or_a_scenario_error(text: str) -> None:
    started = time.perf_counter()
    outcome = _parse(text)
    elapsed = time.perf_counter() - started

    if isinstance(outcome, ScenarioError):
        event("refused: invalid YAML" if "invalid YAML" in str(outcome) else "refused: a value")
        assert 1 <= len(outcome.problems) <= 100
        for problem in outcome.problems:
            assert problem.message.isprintable(), problem
            assert problem.yaml_path.isprintable(), problem
            assert len(problem.message) <= MAX_MESSAGE_CHARS + 30
    else:
        event("accepted")
        assert isinstance(outcome, Scenario)
    assert elapsed < BOUND_S


def _parse(text: str) -> Scenario | ScenarioError:
    """The scenario, or the ScenarioError refusing it; any other exception fails the test."""
    try:
        return parse_scenario(text, file="mutated.yaml")
    except ScenarioError as error:
        return error
