"""What the harness tells its load child: the file it reads at start, and the schedule line it then
writes on the child's stdin. Pure data (the child imports this before anything of the harness).

The exchange, in order:

1. the harness writes :class:`ChildConfig` as JSON and starts ``python -m gameday.load.child FILE``;
2. the child imports locust and the locustfile, builds its environment and runner (and the web UI)
   and prints ``READY`` (``READY web=<port>`` with the web UI) on stdout;
3. the harness writes one :class:`Schedule` line on its stdin: when to start the users and when to
   stop them, on the monotonic clock both processes share;
4. the child appends each second's statistics to ``stats_path`` (JSON lines, :class:`StatsLine`)
   and stops its users at ``stop_ns``; it exits on SIGTERM or when its stdin closes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ChildConfig", "Schedule", "Stage", "StatsLine"]


@dataclass(frozen=True)
class Stage:
    duration_s: float
    users: int
    spawn_rate: float


@dataclass(frozen=True)
class ChildConfig:
    locustfile: str
    """absolute path"""
    host: str
    users: int
    spawn_rate: float
    stats_path: str
    seed: int
    stages: tuple[Stage, ...] = ()
    web_ui: bool = False

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> ChildConfig:
        data = json.loads(path.read_text(encoding="utf-8"))
        stages = tuple(Stage(**stage) for stage in data.pop("stages", ()))
        return cls(**data, stages=stages)


@dataclass(frozen=True)
class Schedule:
    start_ns: int
    stop_ns: int

    def line(self) -> bytes:
        return (json.dumps(asdict(self)) + "\n").encode()

    @classmethod
    def parse(cls, line: bytes) -> Schedule:
        data = json.loads(line)
        return cls(start_ns=int(data["start_ns"]), stop_ns=int(data["stop_ns"]))


@dataclass(frozen=True)
class StatsLine:
    """One line of the statistics file: a history op's ``f``, ``t_ns`` and ``value``."""

    f: str
    t_ns: int
    value: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":")) + "\n"

    @classmethod
    def parse(cls, line: str) -> StatsLine | None:
        """``None`` for a line that is not one (a torn last line of a killed child)."""
        try:
            data = json.loads(line)
            return cls(f=str(data["f"]), t_ns=int(data["t_ns"]), value=dict(data.get("value") or {}))
        except (ValueError, KeyError, TypeError):
            return None
