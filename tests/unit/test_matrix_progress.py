"""What the matrix prints while it runs: its plan, then each run's start, result and run directory."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from gameday.matrix import RunRequest, Variant, run_matrix
from gameday.scenario import Scenario, load_scenario
from gameday.verdict import RunResult, grade_run
from tests.unit.history_builder import failover_history

CRASH = Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml"


def _without_defect(scenario: Scenario, name: str) -> Scenario:
    return scenario.model_copy(update={"known_defect": None, "name": name})


async def test_the_matrix_prints_its_plan_then_each_run_start_result_and_directory() -> None:
    crash = load_scenario(CRASH)
    plain = _without_defect(crash, "[correct #1] plain")
    graded = {recovered: grade_run(crash, failover_history(recovered=recovered).ops)
              for recovered in (True, False)}
    lines: list[str] = []

    async def run_one(request: RunRequest) -> tuple[RunResult, str | None, str | None]:
        run_dir = f"/runs/{request.scenario.name}-{request.variant.value}-{request.repeat}"
        return graded[request.variant is Variant.CORRECT], run_dir, None

    await run_matrix([(CRASH, crash), (Path("x.yaml"), plain)], run_one, repeats=2, progress=lines.append)

    failing = "rto.failover, positions.mismatch_bps, orders.ghost, trading.available_at_end"
    assert lines[:3] == [
        "plan: 2 row(s) x up to 2 variants x 2 repeat(s) = 6 run(s)",
        f"  row 1: failover-primary-crash ({CRASH}): correct, defect (no-promotion) must fail rto.failover",
        "  row 2: [correct #1] plain (x.yaml): correct, no known defect",
    ]
    assert lines[3:7] == [
        "run 1/6 started: failover-primary-crash correct #1",
        "run 1/6 pass - as expected: failover-primary-crash correct #1 in "
        "/runs/failover-primary-crash-correct-0",
        "run 2/6 started: failover-primary-crash defect #1 with no-promotion",
        f"run 2/6 fail (failing: {failing}) - as expected: failover-primary-crash defect #1 in "
        "/runs/failover-primary-crash-defect-0",
    ]
    assert lines[-2:] == [
        "run 6/6 started: [correct #1] plain correct #2",
        "run 6/6 pass - as expected: [correct #1] plain correct #2 in /runs/[correct #1] plain-correct-1",
    ]
    assert len(lines) == 3 + 6 * 2


async def test_matrix_lines_printed_with_markup_off_keep_their_brackets() -> None:
    plain = _without_defect(load_scenario(CRASH), "row [/] [correct #1]")
    result = grade_run(plain, failover_history(recovered=True).ops)
    buffer = io.StringIO()
    console = Console(file=buffer, width=300, color_system=None)

    async def run_one(request: RunRequest) -> tuple[RunResult, str | None, str | None]:
        return result, "/runs/[bold]x", None

    await run_matrix([(CRASH, plain)], run_one,
                     progress=lambda line: console.print(f"  {line}", markup=False, highlight=False))

    assert buffer.getvalue().splitlines()[-1] == (
        "  run 1/1 pass - as expected: row [/] [correct #1] correct #1 in /runs/[bold]x")
