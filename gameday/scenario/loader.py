"""``load_scenario``: a YAML file in, a validated :class:`Scenario` out, or one
:class:`ScenarioError` listing every problem with its file, line and YAML path (the first 99 and a
count of the rest when there are more than 100), each on one printable line.

Whatever the file holds, loading is bounded (:mod:`gameday.scenario.limits`): only a regular file of
at most 1 MiB is read (:mod:`~gameday.scenario.source`), and the YAML is composed within limits on
aliases, expansion, nesting and integers (:mod:`~gameday.scenario.bounded_yaml`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from gameday.errors import ScenarioError, ScenarioProblem
from gameday.scenario.bounded_yaml import BoundedLoader, YamlRefusal
from gameday.scenario.explain import problems_from_validation
from gameday.scenario.invalid import shown
from gameday.scenario.limits import MAX_FILE_BYTES, MAX_LISTED_PROBLEMS, MAX_MESSAGE_CHARS
from gameday.scenario.locate import format_path, mapping_entries, path_at
from gameday.scenario.model import Scenario
from gameday.scenario.source import read_source
from gameday.target import Target

if TYPE_CHECKING:
    from gameday.checkers import CheckerRegistry

__all__ = ["compose_yaml", "load_scenario", "parse_scenario", "printable", "read_source", "repeated_keys"]

_TOP_LEVEL = "expected a mapping with name, description, seed, stack, workload, timeline and expect"


def load_scenario(path: Path | str, *, checkers: CheckerRegistry | None = None,
                  target: Target | None = None, restartable: Collection[str] | None = None,
                  check_files: bool = True) -> Scenario:
    """Read and validate a scenario file; raises :class:`ScenarioError` on any user mistake. Only a
    regular file of at most 1 MiB is read (:func:`~gameday.scenario.source.read_source`). With
    ``check_files`` the files it names (``load.locustfile``) must exist beside it; a stored run's
    copy is re-graded without them."""
    file = str(path)
    return parse_scenario(read_source(path, file=file), file=file, checkers=checkers, target=target,
                          restartable=restartable, base_dir=Path(path).parent if check_files else None)


def parse_scenario(text: str, *, file: str = "<scenario>", checkers: CheckerRegistry | None = None,
                   target: Target | None = None, restartable: Collection[str] | None = None,
                   base_dir: Path | None = None) -> Scenario:
    """Validate scenario YAML text; ``file`` is the name used in error messages. Defect names, builds
    and the target's own stack sections are checked against ``target`` (default: the default target);
    restart actions against ``restartable`` (default: what the preset's embedded stack can restart);
    the files the scenario names, relative to ``base_dir``, must exist (``None``: not checked)."""
    root, data = compose_yaml(text, file)
    if root is None:
        raise _whole_file_error(file, None, f"the file is empty; {_TOP_LEVEL}")
    if not isinstance(root, yaml.MappingNode):
        found = "a list" if isinstance(root, yaml.SequenceNode) else f"{str(root.value)[:40]!r}"
        raise _whole_file_error(file, root.start_mark.line + 1, f"{_TOP_LEVEL}, got {found}")
    problems = repeated_keys(root, file, [])
    context = {"checkers": checkers, "target": target, "restartable": restartable, "base_dir": base_dir}
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data, context=context)
    except ValidationError as error:
        problems.extend(problems_from_validation(error, root, file, Scenario))
    if problems or scenario is None:
        raise ScenarioError(file, _listed(sorted(problems, key=lambda problem: problem.line or 0), file))
    return scenario


def _listed(problems: list[ScenarioProblem], file: str) -> list[ScenarioProblem]:
    """Each problem printable on one line of bounded length, and at most ``MAX_LISTED_PROBLEMS`` of
    them (the last one then says how many more there are)."""
    shown = [replace(problem, yaml_path=printable(problem.yaml_path), message=printable(problem.message))
             for problem in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        left_out = len(problems) - MAX_LISTED_PROBLEMS + 1
        shown[-1] = ScenarioProblem(file, None, "", f"and {left_out:,} more problems (only the first "
                                                    f"{MAX_LISTED_PROBLEMS - 1} are listed)")
    return shown


def printable(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` with every unprintable character escaped (``\\x1b``, ``\\u202e``, ``\\n``), cut to
    ``limit`` characters."""
    if not text.isprintable():
        text = "".join(character if character.isprintable() else ascii(character)[1:-1]
                       for character in text)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _whole_file_error(file: str, line: int | None, message: str) -> ScenarioError:
    return ScenarioError(file, [ScenarioProblem(file, line, "", message)])


def compose_yaml(text: str, file: str, error: type[ScenarioError] = ScenarioError,
                 ) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (with line marks) and the Python data built from it, within the
    limits of :class:`~gameday.scenario.bounded_yaml.BoundedLoader`."""
    loader: BoundedLoader | None = None
    root: yaml.Node | None = None

    def refused(mark: yaml.Mark | None, message: str) -> ScenarioError:
        line = None if mark is None else mark.line + 1
        where = "" if root is None or mark is None else path_at(root, mark)
        return error(file, [ScenarioProblem(file, line, where, printable(message))])

    if len(text) > MAX_FILE_BYTES:  # text that did not come through read_source
        raise refused(None, f"the text is {len(text):,} characters; expected at most {MAX_FILE_BYTES:,}")
    try:
        loader = BoundedLoader(text)
        root = loader.get_single_node()
        return root, None if root is None else loader.construct_document(root)
    except YamlRefusal as refusal:
        raise refused(refusal.problem_mark, str(refusal.problem)) from None
    except yaml.MarkedYAMLError as marked:
        what = " ".join(part for part in (marked.context, marked.problem) if part)
        raise refused(marked.problem_mark or marked.context_mark, f"invalid YAML: {what}") from None
    except yaml.reader.ReaderError as unreadable:  # a control character (NUL, ESC, ...) in the text
        line = text.count("\n", 0, unreadable.position) + 1
        code = unreadable.character
        character = f"#x{code:04x}" if isinstance(code, int) else shown(code)
        raise error(file, [ScenarioProblem(file, line, "", f"invalid YAML: unacceptable character {character}"
                                                           f": {unreadable.reason}")]) from None
    except yaml.YAMLError as problem:
        raise refused(None, f"invalid YAML: {problem}") from None
    except RecursionError:  # not reached within MAX_YAML_DEPTH; a guard all the same
        raise refused(None, "nested too deeply to read") from None
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
