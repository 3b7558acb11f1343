"""The console report: a rich table of expectations and a one-line summary."""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from gameday.starvation import StarvationSummary
from gameday.verdict import RunResult, Verdict

__all__ = ["console_report", "console_text", "expectations_table", "starvation_line", "summary_line"]

VERDICT_STYLES = {Verdict.PASS: "bold green", Verdict.FAIL: "bold red", Verdict.UNKNOWN: "bold yellow"}


def expectations_table(result: RunResult) -> Table:
    table = Table(title=f"{result.scenario} (seed {result.seed})", title_justify="left")
    table.add_column("expectation", no_wrap=True)
    table.add_column("bound")
    table.add_column("observed", justify="right")
    table.add_column("verdict", no_wrap=True)
    table.add_column("note", overflow="fold")
    for expectation in result.expectations:
        note = expectation.error or expectation.note
        table.add_row(
            expectation.name,
            expectation.bound_text,
            expectation.observed_text,
            Text(str(expectation.verdict).upper(), style=VERDICT_STYLES[expectation.verdict]),
            note,
        )
    return table


def summary_line(result: RunResult) -> Text:
    """``FAIL name: 1 passed, ...``; a run that stopped early reads ``ABORTED (reason), expectations
    FAIL name: ...``: its expectations were graded on a partial history."""
    counts = result.counts
    line = Text()
    if result.run_status is not None and result.run_status.stopped_early:
        line.append(result.run_status.value.upper(), style="bold red")
        line.append(f" ({result.abort_reason or 'no reason recorded'}), expectations ")
    line.append(str(result.verdict).upper(), style=VERDICT_STYLES[result.verdict])
    line.append(f" {result.scenario}: {counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed, "
                f"{counts[Verdict.UNKNOWN]} unknown")
    if result.defects:
        line.append(f" [defects: {', '.join(result.defects)}]")
    if result.run_id:
        line.append(f" (run {result.run_id})")
    return line


def _figures(starvation: StarvationSummary) -> str:
    parts = []
    lag = starvation.harness_loop_lag
    if lag is not None:
        parts.append(f"harness loop lag p50 {lag.p50_ms:.0f} / p99 {lag.p99_ms:.0f} / "
                     f"max {lag.max_ms:.0f} ms")
    load = starvation.load_average
    if load is not None:
        parts.append(f"load average max {load.max_1m:.2f}, mean {load.mean_1m:.2f} on {load.cores} cores")
    if starvation.sut_loop_lag:
        worst = ", ".join(f"{sut.instance} {sut.max_ms:.0f}" for sut in starvation.sut_loop_lag)
        parts.append(f"SUT loop lag max (ms): {worst}")
    if starvation.stress:
        parts.append(f"{starvation.stress} CPU burner(s)")
    return "; ".join(parts)


def starvation_line(result: RunResult) -> Text | None:
    """One line when the run was starved of CPU (its timings may say more about the machine than
    about the system under test); ``None`` otherwise. It never changes the verdict."""
    starvation = result.starvation
    if starvation is None or not starvation.starved:
        return None
    line = Text()
    line.append("STARVED", style="bold magenta")
    line.append(f" ({', '.join(starvation.reasons)}): {_figures(starvation)}; the verdict is unchanged")
    return line


def console_report(result: RunResult) -> Group:
    """What the CLI prints: ``Console().print(console_report(result))``."""
    starved = starvation_line(result)
    return Group(expectations_table(result), summary_line(result), *([starved] if starved else []))


def console_text(result: RunResult, *, width: int = 120, color: bool = False) -> str:
    """The console report rendered to a string (plain text unless ``color``)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=color,
                      color_system="standard" if color else None)
    console.print(console_report(result))
    return buffer.getvalue()
