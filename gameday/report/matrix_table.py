"""The detection matrix as a console table and as Markdown (for the README)."""

from __future__ import annotations

from rich.table import Table

from gameday.matrix import Matrix, MatrixRow, RunSummary

__all__ = ["load_text", "matrix_markdown", "matrix_table"]


def _runs_text(runs: tuple[RunSummary, ...], *, defect: bool) -> str:
    if not runs:
        return "—"
    parts = []
    for run in runs:
        text = run.verdict.value
        if defect and run.failing:
            text += f" ({', '.join(run.failing)})"
        elif not defect and run.failing:
            text += f" ({', '.join(run.failing)} failed)"
        if run.error:
            text += f" [aborted: {run.error}]"
        if run.starved:
            text += " [starved]"
        parts.append(text)
    distinct = list(dict.fromkeys(parts))
    return f"{distinct[0]} x{len(parts)}" if len(distinct) == 1 else " / ".join(parts)


def _defect_label(row: MatrixRow) -> str:
    if row.defect_not_run:
        return "not run (a target file's stack)"
    return ", ".join(row.defects) or "none declared"


WIDE_TABLE_MIN_WIDTH = 140


def _reads_markup(row: MatrixRow) -> str:
    return "[green]as expected[/]" if row.as_expected else "[bold red]NOT as expected[/]"


def _narrow_table(matrix: Matrix) -> Table:
    table = Table(title=_title(matrix), show_lines=True)
    table.add_column("scenario / reads", no_wrap=True)
    table.add_column("runs")
    for row in matrix.rows:
        runs = (f"correct: {_runs_text(row.correct, defect=False)}\n"
                f"{_defect_label(row)}: {_runs_text(row.defect, defect=True)}\n"
                f"must fail: {', '.join(row.must_fail) or '—'}")
        table.add_row(f"{row.scenario}\n{_reads_markup(row)}", runs)
    return table


def _title(matrix: Matrix) -> str:
    title = f"detection matrix ({matrix.repeats} run(s) each)"
    if matrix.stress:
        title += f" under stress: {matrix.stress} CPU burner(s)"
    if not matrix.complete:
        title += f" — INCOMPLETE: {len(matrix.rows)} of {matrix.scenarios_planned} scenarios"
    return title


def load_text(matrix: Matrix) -> str:
    """The stress level, the load average over the matrix and how many runs were starved."""
    runs = sum(len(row.correct) + len(row.defect) for row in matrix.rows)
    text = f"stress: {matrix.stress} CPU burner(s)"
    load = matrix.load_average
    if load is not None:
        text += f"; load average max {load.max_1m:.2f}, mean {load.mean_1m:.2f} on {load.cores} cores"
    return text + f"; {matrix.starved_runs} of {runs} runs starved"


def matrix_table(matrix: Matrix, width: int = WIDE_TABLE_MIN_WIDTH) -> Table:
    """One column per fact when ``width`` allows; narrower, two columns so names stay whole."""
    if width < WIDE_TABLE_MIN_WIDTH:
        return _narrow_table(matrix)
    table = Table(title=_title(matrix), show_lines=False)
    table.add_column("scenario", no_wrap=True)
    for column in ("correct stack", "defect", "defective stack", "must fail"):
        table.add_column(column)
    table.add_column("reads", no_wrap=True)
    for row in matrix.rows:
        table.add_row(row.scenario, _runs_text(row.correct, defect=False), _defect_label(row),
                      _runs_text(row.defect, defect=True), ", ".join(row.must_fail) or "—",
                      _reads_markup(row))
    return table


def _rto_text(row: MatrixRow) -> str:
    values = [run.observed.get("rto.failover") for run in row.correct]
    shown = [f"{value:.1f}" for value in values if value is not None]
    return f"{' / '.join(shown)} s" if shown else "—"


def matrix_markdown(matrix: Matrix) -> str:
    lines = [
        "| scenario | correct stack | RTO (correct runs) | defect "
        "| defective stack (failing expectations) | reads |",
        "|---|---|---|---|---|---|",
    ]
    for row in matrix.rows:
        lines.append(f"| {row.scenario} | {_runs_text(row.correct, defect=False)} | {_rto_text(row)} | "
                     f"`{_defect_label(row)}` | {_runs_text(row.defect, defect=True)} | "
                     f"{'as expected' if row.as_expected else '**NOT as expected**'} |")
    if not matrix.complete:
        lines.append(f"\n**Incomplete:** {len(matrix.rows)} of {matrix.scenarios_planned} scenarios ran.")
    if matrix.stress or matrix.load_average is not None:
        lines.append(f"\n{load_text(matrix)}.")
    return "\n".join(lines) + "\n"
