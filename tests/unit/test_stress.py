"""CPU burners with real processes: started, burning, and every one stopped and reaped however the
block ends (normal end, exception, cancellation, the harness killed with SIGKILL)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from gameday.stack.reaper import reap_stale_runs
from gameday.stress import Burners, stress_level, under_stress
from tests.integration.processes import alive, wait_for

BURNED_TICKS = os.sysconf("SC_CLK_TCK") // 4


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _registries(root: Path) -> list[Path]:
    return sorted((root / ".active").glob("*.json"))


async def test_burners_run_burn_and_are_all_reaped_after_a_normal_end(tmp_path: Path) -> None:
    before = _children()
    async with Burners(2, tmp_path) as burners:
        pids = set(burners.pids)
        assert len(pids) == 2
        assert pids <= _children() - before
        (registry,) = _registries(tmp_path)
        listed = {entry["pid"] for entry in json.loads(registry.read_text())["processes"]}
        assert listed == pids
        # a quarter second of CPU each: more than an interpreter's start-up, so they burn
        await asyncio.to_thread(wait_for, lambda: all(_cpu_ticks(pid) >= BURNED_TICKS for pid in pids), 20,
                                "every burner to use CPU")
    assert not (_children() & pids)
    assert not any(alive(pid) for pid in pids)
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)  # reaped: not even a zombie
    assert _registries(tmp_path) == []


async def test_burners_are_reaped_when_the_block_raises(tmp_path: Path) -> None:
    pids: set[int] = set()

    async def failing_matrix() -> None:
        async with Burners(3, tmp_path) as burners:
            pids.update(burners.pids)
            raise RuntimeError("row failed")

    with pytest.raises(RuntimeError, match="row failed"):
        await failing_matrix()
    assert len(pids) == 3
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert _registries(tmp_path) == []


async def test_burners_are_reaped_when_the_run_is_cancelled(tmp_path: Path) -> None:
    started = asyncio.Event()
    pids: set[int] = set()

    async def matrix() -> None:
        async def forever() -> None:
            started.set()
            await asyncio.Event().wait()

        async with Burners(2, tmp_path) as burners:
            pids.update(burners.pids)
            await forever()

    task = asyncio.create_task(matrix())
    await started.wait()
    task.cancel()  # what Ctrl-C and SIGTERM do to the CLI's main task
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(pids) == 2
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


async def test_no_stress_starts_nothing_and_under_stress_returns_the_work(tmp_path: Path) -> None:
    before = _children()
    seen: list[int] = []

    async def work() -> str:
        seen.append(len(_children() - before))
        return "graded"

    assert await under_stress(0, tmp_path, work) == "graded"
    assert await under_stress(1, tmp_path, work) == "graded"
    assert seen == [0, 1]
    assert _children() == before
    assert _registries(tmp_path) == []


async def test_burners_leave_the_harness_random_state_alone(tmp_path: Path) -> None:
    random.seed(7)
    state = random.getstate()
    async with Burners(1, tmp_path):
        assert random.getstate() == state
    assert random.getstate() == state


def test_burners_die_with_a_harness_killed_by_sigkill(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import asyncio
        from pathlib import Path
        from gameday.stress import Burners
        async def main():
            async with Burners(2, Path({str(tmp_path)!r})) as burners:
                print(*burners.pids, flush=True)
                await asyncio.Event().wait()
        asyncio.run(main())
    """)
    harness = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert harness.stdout is not None
    pids = [int(pid) for pid in harness.stdout.readline().split()]
    assert len(pids) == 2
    assert all(alive(pid) for pid in pids)
    harness.send_signal(signal.SIGKILL)
    harness.wait()
    harness.stdout.close()
    wait_for(lambda: not any(alive(pid) for pid in pids), 5, "the burners to die with their harness")
    # the killed harness left its registry naming them; the next run's reaper clears it (it may
    # still "kill" zombies that init has not reaped yet, which is harmless)
    (registry,) = _registries(tmp_path)
    assert {entry["pid"] for entry in json.loads(registry.read_text())["processes"]} == set(pids)
    (reaped,) = reap_stale_runs(tmp_path)
    assert set(reaped.killed) <= {f"burner-{number}({pid})" for number, pid in enumerate(pids)}
    assert not registry.exists()


@pytest.mark.parametrize(("text", "level"), [("0", 0), ("3", 3), ("cores", os.cpu_count() or 1),
                                             ("CORES", os.cpu_count() or 1)])
def test_stress_level_reads_counts_and_cores(text: str, level: int) -> None:
    assert stress_level(text) == level


@pytest.mark.parametrize("text", ["-1", "many", "1.5"])
def test_stress_level_refuses_what_is_not_a_count(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        stress_level(text)


@pytest.mark.parametrize("command", ["run", "matrix"])
def test_the_cli_takes_a_stress_level(command: str) -> None:
    from gameday.cli import _parser

    args = _parser().parse_args([command, "scenarios/x.yaml", "--stress", "cores"])

    assert args.stress == (os.cpu_count() or 1)
    assert _parser().parse_args([command, "scenarios/x.yaml"]).stress == 0
