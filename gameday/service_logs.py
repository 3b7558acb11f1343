"""The services' structured logs, collected into the run directory once the run is over.

A target says where each service logs (``StackEndpoints.logs``: a path or a glob). After the final
state is captured, every JSON-object line of those files (the SUT contract's structured log: ``ts``,
``level``, ``service``, ``instance``, ``event``, ``msg`` and the ids ``corr``, ``cl_ord_id``,
``order_id``, ``exec_id``, ``symbol``) is copied into ``logs/<service>.jsonl``; other lines (a
traceback, a library's plain text) are left where they are. Bounded: at most :data:`MAX_LINES` lines
a service, read from at most :data:`MAX_BYTES` of each file's end.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

__all__ = ["LOGS_DIR", "MAX_BYTES", "MAX_LINES", "collect_logs", "read_logs"]

LOGS_DIR = "logs"
MAX_BYTES = 32 * 1024 * 1024
MAX_LINES = 200_000
MAX_FILES = 16


def _files(where: str) -> list[Path]:
    if glob.has_magic(where):
        return [Path(found) for found in sorted(glob.glob(where))[:MAX_FILES]]
    return [Path(where)]


def _json_lines(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each JSON-object line of the file's tail, and the object it holds."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - MAX_BYTES))
            if size > MAX_BYTES:
                file.readline()  # a partial first line
            for raw in file:
                line = raw.decode("utf-8", errors="replace").strip()
                if line.startswith("{") and line.endswith("}"):
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict):
                        yield line, entry
    except OSError:
        return


def collect_logs(sources: Mapping[str, str], run_dir: Path) -> dict[str, int]:
    """Copy each service's JSON lines into ``run_dir/logs``; service → lines copied."""
    copied: dict[str, int] = {}
    if not sources:
        return copied
    folder = run_dir / LOGS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for service, where in sources.items():
        count = 0
        with (folder / f"{service}.jsonl").open("w", encoding="utf-8") as out:
            for path in _files(where):
                for line, _ in _json_lines(path):
                    if count >= MAX_LINES:
                        break
                    out.write(line + "\n")
                    count += 1
        copied[service] = count
    return copied


def read_logs(run_dir: Path) -> list[dict[str, Any]]:
    """Every collected log line (a JSON object), the file's service set when the line names none."""
    lines: list[dict[str, Any]] = []
    for path in sorted((run_dir / LOGS_DIR).glob("*.jsonl")):
        for _, entry in _json_lines(path):
            entry.setdefault("service", path.stem)
            lines.append(entry)
    return lines
