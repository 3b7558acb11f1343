"""A ``replay`` exchange fault's ``file``: the recorded day read at load time, sent as its lines.

``params: {file: data/edge-day.jsonl, speed: 600}`` names a file relative to the scenario file's
directory; the loader reads it under the replay format's bounds (``mock_exchange.replay_file``:
size, lines, each line checked, an error naming the file and the line) and puts its lines in
``lines`` (and the file's name in ``source``), which is what the venue's admin API is given. A
scenario read back without its files (``gameday analyze`` of a stored run) keeps ``file`` as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mock_exchange.replay_file import ReplayFileError, read_lines

FILE_KEY = "file"


class ReplayParamsError(ValueError):
    """The replay's file cannot be read or played (the message names it)."""


def read_replay_file(params: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """``params`` with ``file`` replaced by its ``lines`` and ``source``."""
    name = params[FILE_KEY]
    if not isinstance(name, str) or not name:
        raise ReplayParamsError("file: expected the path of a replay file, relative to the scenario's "
                                "directory")
    if "lines" in params:
        raise ReplayParamsError("give file or lines, not both")
    try:
        lines = read_lines(base_dir / name)
    except ReplayFileError as error:
        raise ReplayParamsError(str(error)) from None
    rest = {key: value for key, value in params.items() if key != FILE_KEY}
    return {**rest, "lines": list(lines), "source": name}
