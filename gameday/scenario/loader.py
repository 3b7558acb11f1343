"""``load_scenario``: a YAML file in, a validated :class:`Scenario` out, or one
:class:`ScenarioError` listing every problem with its file, line and YAML path."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gameday.checkers import CheckerRegistry
from gameday.errors import ScenarioError, ScenarioProblem
from gameday.scenario.explain import problems_from_validation
from gameday.scenario.locate import format_path, mapping_entries
from gameday.scenario.model import Scenario
from gameday.target import Target

__all__ = ["compose_yaml", "load_scenario", "parse_scenario", "repeated_keys"]

_TOP_LEVEL = "expected a mapping with name, description, seed, stack, workload, timeline and expect"


def load_scenario(path: Path | str, *, checkers: CheckerRegistry | None = None,
                  target: Target | None = None, restartable: Collection[str] | None = None) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError` on any user mistake."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise _whole_file_error(file, None, f"cannot read the file: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise _whole_file_error(file, None, f"expected UTF-8 text: {error.reason}") from None
    return parse_scenario(text, file=file, checkers=checkers, target=target, restartable=restartable)


def parse_scenario(text: str, *, file: str = "<scenario>", checkers: CheckerRegistry | None = None,
                   target: Target | None = None, restartable: Collection[str] | None = None) -> Scenario:
    """Validate scenario YAML text; ``file`` is the name used in error messages. Defect names, builds
    and the target's own stack sections are checked against ``target`` (default: the default target);
    restart actions against ``restartable`` (default: what the preset's embedded stack can restart)."""
    root, data = compose_yaml(text, file)
    if root is None:
        raise _whole_file_error(file, None, f"the file is empty; {_TOP_LEVEL}")
    if not isinstance(root, yaml.MappingNode):
        found = "a list" if isinstance(root, yaml.SequenceNode) else f"{str(root.value)[:40]!r}"
        raise _whole_file_error(file, root.start_mark.line + 1, f"{_TOP_LEVEL}, got {found}")
    problems = repeated_keys(root, file, [])
    context = {"checkers": checkers, "target": target, "restartable": restartable}
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data, context=context)
    except ValidationError as error:
        problems.extend(problems_from_validation(error, root, file, Scenario))
    if problems or scenario is None:
        raise ScenarioError(file, sorted(problems, key=lambda problem: problem.line or 0))
    return scenario


def _whole_file_error(file: str, line: int | None, message: str) -> ScenarioError:
    return ScenarioError(file, [ScenarioProblem(file, line, "", message)])


def compose_yaml(text: str, file: str, error: type[ScenarioError] = ScenarioError,
                 ) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (with line marks) and the Python data built from it."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # refuses unprintable characters already
        root = loader.get_single_node()
        return root, None if root is None else loader.construct_document(root)
    except yaml.MarkedYAMLError as marked:
        mark = marked.problem_mark or marked.context_mark
        line = None if mark is None else mark.line + 1
        what = " ".join(part for part in (marked.context, marked.problem) if part)
        raise error(file, [ScenarioProblem(file, line, "", f"invalid YAML: {what}")]) from None
    except yaml.YAMLError as problem:
        raise error(file, [ScenarioProblem(file, None, "", f"invalid YAML: {problem}")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def repeated_keys(node: yaml.Node, file: str, path: list[int | str]) -> list[ScenarioProblem]:
    """YAML lets a later key silently replace an earlier one; a scenario must not."""
    problems: list[ScenarioProblem] = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key, key_node, value in mapping_entries(node):
            line = key_node.start_mark.line + 1
            if key in first_line:
                problems.append(ScenarioProblem(
                    file, line, format_path([*path, key]),
                    f"key repeated (first on line {first_line[key]}); expected each key once"))
            first_line.setdefault(key, line)
            problems.extend(repeated_keys(value, file, [*path, key]))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(repeated_keys(item, file, [*path, index]))
    return problems
