"""CPU stress beside a run: N child processes that do nothing but burn a core each.

``gameday matrix --stress N`` (and ``gameday run --stress N``) run the game days with
``async with Burners(N, reports_root):`` around them. The burners are started like the stack's
services (:func:`gameday.stack.process.start_process`): their own process group, a parent-death
signal (they die with the harness, SIGKILL included), and a registry file under
``<reports_root>/.active/`` so the next run's reaper stops any a crash left behind. They never
touch the harness's random state: each is a separate interpreter running ``while True: pass``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

from gameday.stack.process import ManagedProcess, ProcessSpec, start_process
from gameday.stack.rundir import ProcessRegistry, RunDir

__all__ = ["BURNER_ARGV", "CORES", "Burners", "stress_level", "under_stress"]

T = TypeVar("T")

CORES = "cores"
BURNER_ARGV = (sys.executable, "-I", "-S", "-c", "while True: pass")
STRESS_RUN_NAME = "stress"
"""The registry record's scenario name: ``<reports_root>/.active/<id>.json`` names ``stress/<id>``."""


def stress_level(text: str) -> int:
    """``--stress`` as given: a count of burners, or ``cores`` for one per core (``os.cpu_count()``)."""
    if text.strip().lower() == CORES:
        return os.cpu_count() or 1
    try:
        level = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of burners or {CORES!r}, got {text!r}") from None
    if level < 0:
        raise argparse.ArgumentTypeError(f"the stress level cannot be negative, got {level}")
    return level


class Burners:
    """``async with Burners(count, reports_root) as burners:`` ``count`` burning children until the
    block ends, however it ends; every one is stopped and reaped (``burners.pids`` names them)."""

    def __init__(self, count: int, reports_root: Path) -> None:
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        self.count = count
        self._registry = ProcessRegistry(RunDir(reports_root, STRESS_RUN_NAME))
        self._processes: list[ManagedProcess] = []
        self._entered = False

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(process.pid for process in self._processes)

    async def __aenter__(self) -> Self:
        if self._entered:
            raise RuntimeError("Burners are started once")
        self._entered = True
        if self.count == 0:
            return self
        self._registry.open()
        try:
            for number in range(self.count):
                spec = ProcessSpec(name=f"burner-{number}", argv=BURNER_ARGV, log_path=Path(os.devnull),
                                   stop_signal=signal.SIGKILL, stop_timeout_s=2.0)
                await start_process(spec, on_spawn=self._track)
        except BaseException:
            await self._stop()
            raise
        return self

    def _track(self, process: ManagedProcess) -> None:
        self._processes.append(process)
        self._registry.add(process)

    async def _stop(self) -> None:
        while self._processes:
            process = self._processes.pop()
            # shielded: a second Ctrl-C must not leave a burner unreaped (the parent-death signal
            # still covers a harness that exits before this finishes)
            await asyncio.shield(process.stop())
            self._registry.remove(process.spec.name)
        self._registry.close()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stop()


async def under_stress(count: int, reports_root: Path, work: Callable[[], Awaitable[T]]) -> T:
    """``work()`` awaited beside ``count`` burners (none started when 0)."""
    async with Burners(count, reports_root):
        return await work()
