"""A scenario's ``load:`` section: a locustfile run beside the seeded workload.

The seeded workload is the graded order flow (open loop, reproducible, in the history op by op);
``load:`` adds what SREs already have: their locustfiles, locust's users, spawn rates and load
shapes, and its live web UI. Locust's requests are not in the history one by one: its per-second
statistics are (:mod:`gameday.load.stats`), graded by ``load.failure_ratio`` and ``load.p99_ms``.

When it runs is two points of the timeline (``from``, ``until``), each a time from the workload's
start (``5s``), ``start`` / ``end`` (of the workload), or a fault's ``id``: ``from`` a fault is when
it starts, ``until`` a fault is when it is healed (so it needs ``for``). A repeating fault's id names
its first occurrence, ``<id>#<n>`` its n-th.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from gameday.scenario.duration import Duration, parse_duration
from gameday.scenario.faults import Fault, PositiveDuration, occurrences_of
from gameday.scenario.invalid import invalid
from gameday.scenario.presets import StackPreset, topology
from gameday.scenario.repeat import occurrence_id

__all__ = ["ALL_OMS", "END", "FRONT_DOOR", "START", "LoadPoint", "LoadSpec", "LoadStage", "load_problems",
           "load_window"]

START = "start"
END = "end"
ALL_OMS = "oms"
"""``target: oms``: every OMS instance (the locustfile's ``host`` is the first)."""
FRONT_DOOR = "front-door"
MAX_LOAD_USERS = 10_000
MAX_SPAWN_RATE = 1_000.0
MAX_STAGES = 100
MAX_ENV = 50
_POINT = re.compile(r"^[a-z0-9][a-z0-9-]*(#[1-9][0-9]*)?$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_URL_SCHEMES = ("http", "https", "ws", "wss")
_POINT_EXPECTED = "expected a time such as '5s', start, end, or the id of a timeline fault"


def _point(value: Any) -> Any:
    """``start``/``end`` as they are, a duration as a :class:`Duration`, else a fault id."""
    if value in (START, END) or isinstance(value, Duration):
        return value
    try:
        return parse_duration(value)
    except ValueError:
        pass
    if isinstance(value, str) and _POINT.match(value):
        return value
    raise invalid("load_point", _POINT_EXPECTED)


LoadPoint = Annotated[Duration | str, BeforeValidator(_point)]
Users = Annotated[int, Field(ge=0, le=MAX_LOAD_USERS)]
SpawnRate = Annotated[float, Field(gt=0, le=MAX_SPAWN_RATE, allow_inf_nan=False)]


class LoadStage(BaseModel):
    """One stage of a load shape: hold ``users`` (reached at ``spawn_rate`` users/s) for ``for``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    duration: PositiveDuration = Field(alias="for")
    users: Users
    spawn_rate: SpawnRate | None = None
    """users started (or stopped) per second; default the load's ``spawn_rate``"""


class LoadSpec(BaseModel):
    """What locust runs, against what, and when (docs/scenario-format.md, ``load``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    locustfile: str = Field(min_length=1, max_length=1024)
    """a path, relative to the scenario file's directory (``../loads/oms_http.py``)"""
    target: str | None = Field(default=None, min_length=1)
    """``oms`` (every instance; the default without ``url``), ``front-door``, or one OMS instance"""
    url: str | None = Field(default=None, max_length=1024)
    """instead of ``target``: the host the locustfile is given (e.g. a venue's ``ws://`` API)"""
    users: Annotated[int, Field(ge=1, le=MAX_LOAD_USERS)] = 20
    spawn_rate: SpawnRate = 10.0
    shape: tuple[LoadStage, ...] = Field(default=(), max_length=MAX_STAGES)
    """stages run one after the other from ``from``; after the last, the users stop"""
    from_: LoadPoint = Field(default=Duration(0), alias="from")
    until: LoadPoint = END
    env: dict[str, str] = Field(default={}, max_length=MAX_ENV)
    """environment variables the locustfile reads (``GAMEDAY_*`` ones are the harness's)"""

    @field_validator("locustfile")
    @classmethod
    def _python_file(cls, path: str, info: ValidationInfo) -> str:
        if not path.endswith(".py") or "\0" in path:
            raise invalid("locustfile", "expected the path of a locustfile ending in .py")
        base = info.context.get("base_dir") if isinstance(info.context, dict) else None
        if isinstance(base, Path) and not (base / path).is_file():
            raise invalid("locustfile", f"no such file: {base / path} (a path is read from the "
                                        f"scenario file's directory)")
        return path

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in _URL_SCHEMES or not parts.hostname:
            raise invalid("load_url", f"expected a URL with a host and a scheme of {', '.join(_URL_SCHEMES)}")
        return url

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        bad = sorted(name for name in env if not _ENV_NAME.match(name) or name.startswith("GAMEDAY_"))
        if bad:
            raise invalid("load_env", "expected upper-case variable names (A-Z, 0-9, _) not starting "
                                      f"with GAMEDAY_ (the harness's own), got {', '.join(bad)}")
        return env

    @model_validator(mode="after")
    def _target_or_url(self) -> LoadSpec:
        if self.url is not None and self.target is not None:
            raise invalid("load_target", "expected either target (a service of the stack) or url, not both")
        return self

    @property
    def service(self) -> str | None:
        """The stack's hosts the load goes to (``oms``, ``front-door``, an instance); ``None``: ``url``."""
        return None if self.url is not None else self.target or ALL_OMS


def _problem(key: str, kind: str, message: str, value: Any) -> InitErrorDetails:
    return InitErrorDetails(type=invalid(kind, message), loc=("load", key), input=value)


def _fault_named(name: str, timeline: tuple[Fault, ...]) -> Fault | None:
    """The occurrence a load point names: a fault's id (its first occurrence), or ``<id>#<n>``."""
    for fault in timeline:
        if fault.id is None:
            continue
        found = occurrences_of(fault)
        if name == fault.id:
            return found[0]
        for number, occurrence in enumerate(found, start=1):
            if fault.every is not None and name == occurrence_id(fault.id, number):
                return occurrence
    return None


def _offset_ns(point: Duration | str, *, until: bool, timeline: tuple[Fault, ...],
               workload_end: Duration) -> int | str:
    """The point's offset from the workload's start, or why it has none."""
    if isinstance(point, Duration):
        return point.ns
    if point == START:
        return 0
    if point == END:
        return workload_end.ns
    fault = _fault_named(point, timeline)
    if fault is None:
        named = ", ".join(sorted(fault.id for fault in timeline if fault.id)) or \
            "none: give a timeline fault an id"
        return f"expected {START}, {END}, a time or the id of a timeline fault ({named}), got {point!r}"
    if not until:
        return fault.at.ns
    if fault.heal_after is None:
        return (f"fault {point!r} has no for: it is healed only at the end of the run; "
                f"expected a fault with for, a time, or {END}")
    return fault.at.ns + fault.heal_after.ns


def load_window(load: LoadSpec, timeline: tuple[Fault, ...], workload_end: Duration) -> tuple[int, int]:
    """When the load runs, in ns from the workload's start (a validated scenario's load)."""
    start = _offset_ns(load.from_, until=False, timeline=timeline, workload_end=workload_end)
    stop = _offset_ns(load.until, until=True, timeline=timeline, workload_end=workload_end)
    if isinstance(start, str) or isinstance(stop, str):
        raise ValueError(start if isinstance(start, str) else stop)
    return start, stop


def _target_problem(load: LoadSpec, preset: StackPreset) -> InitErrorDetails | None:
    stack = topology(preset)
    service = load.service
    if service is None or service == ALL_OMS or service in stack.oms_instances:
        return None
    if service == FRONT_DOOR:
        if FRONT_DOOR in stack.services:
            return None
        return _problem("target", "no_front_door", f"preset {preset} has no front door; expected "
                                                    f"{ALL_OMS} or an OMS instance", service)
    choices = ", ".join([ALL_OMS, *([FRONT_DOOR] if FRONT_DOOR in stack.services else []),
                         *stack.oms_instances])
    return _problem("target", "load_target", f"expected one of: {choices}", service)


def load_problems(load: LoadSpec, preset: StackPreset, timeline: tuple[Fault, ...],
                  workload_end: Duration) -> list[InitErrorDetails]:
    """The target fits the preset; ``from`` and ``until`` name points within the workload, in order."""
    problems = [problem for problem in (_target_problem(load, preset),) if problem is not None]
    offsets: dict[str, int] = {}
    for key, point in (("from", load.from_), ("until", load.until)):
        offset = _offset_ns(point, until=key == "until", timeline=timeline, workload_end=workload_end)
        if isinstance(offset, str):
            problems.append(_problem(key, "load_point", offset, str(point)))
        elif offset > workload_end.ns:
            problems.append(_problem(key, "after_workload", f"expected a point by the end of the workload "
                                                            f"({workload_end}), got {Duration(offset)}",
                                     str(point)))
        else:
            offsets[key] = offset
    if len(offsets) == 2 and offsets["from"] >= offsets["until"]:
        problems.append(_problem("until", "load_order", f"expected a point after from "
                                                        f"({Duration(offsets['from'])}), got "
                                                        f"{Duration(offsets['until'])}", str(load.until)))
    return problems
