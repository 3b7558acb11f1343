"""The harness's side of a scenario's load: start the load child, tell it when, copy its statistics
into the history, and always stop it.

``async with LoadRun(plan, history, run_dir) as load:`` starts ``python -m gameday.load.child`` with
the harness's process machinery (:func:`gameday.stack.process.start_process`: its own process
group, a parent-death signal, a log file) and waits for its READY line; the child is listed in the
run's registry (``<reports>/.active/<run-id>.load.json``) so the next run's reaper stops one a
killed harness left. ``load.begin(started_ns)`` writes the schedule on its stdin. Leaving the block
— at the end of the workload, on an error, on Ctrl-C — sends SIGTERM, then SIGKILL after
``stop_timeout_s``, and copies the last seconds into the history. ``NO_LOAD`` stands in for a
scenario without ``load:``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from gameday.errors import GamedayError
from gameday.history import History, OpKind, OpType
from gameday.load.config import ChildConfig, Schedule, Stage, StatsLine
from gameday.load.stats import EXIT_F, LOAD_PROCESS, STATS_F
from gameday.loopback import is_loopback_address
from gameday.scenario import Scenario
from gameday.scenario.load_spec import ALL_OMS, FRONT_DOOR, LoadSpec, load_window
from gameday.stack.process import ManagedProcess, ProcessSpec, start_process
from gameday.stack.rundir import ProcessRegistry, RunDir
from gameday.stack.settings import StackEndpoints

__all__ = ["NO_LOAD", "LoadError", "LoadPlan", "LoadRun", "NoLoad", "load_hosts"]

CHILD = "locust"
READY_TIMEOUT_S = 30.0
TAIL_INTERVAL_S = 0.5
STOP_TIMEOUT_S = 5.0


class LoadError(GamedayError):
    """The load cannot run as the scenario says (no such host, a remote URL not allowed)."""


@dataclass(frozen=True)
class LoadPlan:
    """A scenario's load resolved against its file: the locustfile and when, from the workload's start."""

    spec: LoadSpec
    locustfile: Path
    start_offset_ns: int
    stop_offset_ns: int
    seed: int
    symbols: tuple[str, ...]

    @classmethod
    def of(cls, scenario: Scenario, scenario_path: Path) -> LoadPlan | None:
        load = scenario.load
        if load is None:
            return None
        start, stop = load_window(load, scenario.timeline, scenario.workload.duration)
        return cls(load, (scenario_path.parent / load.locustfile).resolve(), start, stop, scenario.seed,
                   tuple(scenario.workload.symbols))


def load_hosts(spec: LoadSpec, endpoints: StackEndpoints, *, allow_remote: bool = False) -> list[str]:
    """The hosts the load goes to; the locustfile's ``host`` is the first."""
    service = spec.service
    if service is None:
        assert spec.url is not None
        if not allow_remote and not is_loopback_address(spec.url):
            raise LoadError(f"load.url {spec.url} is off loopback: a game day sends its load to its own "
                            f"stack (--allow-remote lets it go elsewhere)")
        return [spec.url]
    if service == ALL_OMS:
        hosts = list(endpoints.oms.values())
    elif service == FRONT_DOOR:
        hosts = [endpoints.front_door] if endpoints.front_door else []
    else:
        hosts = [endpoints.oms[service]] if service in endpoints.oms else []
    if not hosts:
        raise LoadError(f"load.target {service}: the stack has no such endpoint")
    return hosts


class NoLoad:
    """A scenario without ``load:``: nothing starts, nothing is recorded."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def begin(self, started_ns: int) -> None:
        return None


NO_LOAD = NoLoad()


class LoadRun:
    """The load child for one run (see the module's docstring). Entered once."""

    def __init__(self, plan: LoadPlan, history: History, run_dir: RunDir, endpoints: StackEndpoints, *,
                 web_ui: bool = False, allow_remote: bool = False,
                 progress: Callable[[str], None] = lambda line: None) -> None:
        self._plan = plan
        self._history = history
        self._dir = run_dir.path / "load"
        self._registry = ProcessRegistry(run_dir, part="load")
        self._hosts = load_hosts(plan.spec, endpoints, allow_remote=allow_remote)
        self._web_ui = web_ui
        self._progress = progress
        self._process: ManagedProcess | None = None
        self._tail: asyncio.Task[None] | None = None
        self._offset = 0
        self._entered = False

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def _config(self, locustfile: Path) -> ChildConfig:
        spec = self._plan.spec
        rate = spec.spawn_rate
        return ChildConfig(
            locustfile=str(locustfile), host=self._hosts[0], users=spec.users, spawn_rate=rate,
            stats_path=str(self._dir / "stats.jsonl"), seed=self._plan.seed, web_ui=self._web_ui,
            stages=tuple(Stage(stage.duration.seconds, stage.users, stage.spawn_rate or rate)
                         for stage in spec.shape))

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self._plan.spec.env,
                "GAMEDAY_HOSTS": json.dumps(self._hosts), "GAMEDAY_SYMBOLS": json.dumps(self._plan.symbols),
                "GAMEDAY_SEED": str(self._plan.seed)}

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("a LoadRun is entered once")
        self._entered = True
        self._dir.mkdir(parents=True, exist_ok=True)
        if not self._plan.locustfile.is_file():
            raise LoadError(f"no locustfile at {self._plan.locustfile}")
        copy = self._dir / self._plan.locustfile.name  # the run keeps the locustfile it ran
        shutil.copyfile(self._plan.locustfile, copy)
        config_path = self._dir / "config.json"
        self._config(self._plan.locustfile).write(config_path)
        spec = ProcessSpec(name=CHILD, argv=(sys.executable, "-m", "gameday.load.child", str(config_path)),
                           log_path=self._dir / "locust.log", env=self._env(), ready_line=True,
                           stdin_pipe=True, stop_timeout_s=STOP_TIMEOUT_S)
        self._registry.open()
        try:
            self._process = await start_process(spec, on_spawn=self._registry.add,
                                                ready_timeout_s=READY_TIMEOUT_S)
        except BaseException:
            await self._stop()
            raise
        self._tail = asyncio.create_task(self._follow())
        port = self._process.ports.get("web")
        if port:
            self._progress(f"locust web UI: http://127.0.0.1:{port}")
        return self

    def begin(self, started_ns: int) -> None:
        """Tell the child when the workload starts (on the clock both processes share)."""
        assert self._process is not None
        assert self._process.proc.stdin is not None
        schedule = Schedule(started_ns + self._plan.start_offset_ns, started_ns + self._plan.stop_offset_ns)
        try:
            self._process.proc.stdin.write(schedule.line())
        except (BrokenPipeError, ConnectionResetError):
            self._progress(f"load: the locust child exited early (see {self._dir / 'locust.log'})")
            return
        window = f"{self._plan.start_offset_ns / 1e9:g}s to {self._plan.stop_offset_ns / 1e9:g}s"
        self._progress(f"load: {self._plan.locustfile.name} against {self._hosts[0]}, "
                       f"{window} of the workload")

    def _copy_new_lines(self) -> None:
        path = self._dir / "stats.jsonl"
        try:
            with path.open("rb") as stats:
                stats.seek(self._offset)
                data = stats.read()
        except FileNotFoundError:
            return
        complete = data[:data.rfind(b"\n") + 1]
        self._offset += len(complete)
        for raw in complete.decode(errors="replace").splitlines():
            line = StatsLine.parse(raw)
            if line is not None:
                kind = OpType.OK if line.f == STATS_F else OpType.INFO
                self._history.append(OpKind.LOAD, kind, LOAD_PROCESS, line.f, line.value, t_ns=line.t_ns)

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(TAIL_INTERVAL_S)
            self._copy_new_lines()

    async def _stop(self) -> None:
        if self._tail is not None:
            self._tail.cancel()
            await asyncio.gather(self._tail, return_exceptions=True)
        code = None
        if self._process is not None:
            # shielded: a second Ctrl-C must not leave the child unreaped (its parent-death signal
            # still covers a harness that exits before this finishes)
            code = await asyncio.shield(self._process.stop())
            self._registry.remove(CHILD)
        self._registry.close()
        self._copy_new_lines()
        if self._process is not None:
            self._history.append(OpKind.LOAD, OpType.INFO, LOAD_PROCESS, EXIT_F,
                                 {"code": code, "pid": self._process.pid})

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stop()
