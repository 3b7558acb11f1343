"""The detection matrix as a console table and as Markdown (for the README)."""

from __future__ import annotations

from rich.table import Table

from gameday.matrix import Matrix, MatrixRow, RunSummary

__all__ = ["matrix_markdown", "matrix_table"]


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
        parts.append(text)
    distinct = list(dict.fromkeys(parts))
    return f"{distinct[0]} x{len(parts)}" if len(distinct) == 1 else " / ".join(parts)


def _defect_label(row: MatrixRow) -> str:
    return ", ".join(d.value for d in row.defects) or "none declared"


def matrix_table(matrix: Matrix) -> Table:
    table = Table(title=f"detection matrix ({matrix.repeats} run(s) each)", show_lines=False)
    for column in ("scenario", "correct stack", "defect", "defective stack", "must fail", "reads"):
        table.add_column(column)
    for row in matrix.rows:
        reads = "[green]as expected[/]" if row.as_expected else "[bold red]NOT as expected[/]"
        table.add_row(row.scenario, _runs_text(row.correct, defect=False), _defect_label(row),
                      _runs_text(row.defect, defect=True), ", ".join(row.must_fail) or "—", reads)
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
    return "\n".join(lines) + "\n"
