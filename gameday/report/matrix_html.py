"""``matrix.html``: the detection matrix as a page, each run linking to its own ``report.html``.

One row per scenario: how the correct stack and the defective one read over the repeats, each
run a badge linking (relatively, so the folder can be moved or served as it is) to its report,
and the RTOs across repeats as a small plot. Self-contained like ``report.html``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gameday.matrix import Matrix, MatrixRow, RunSummary, Variant
from gameday.report.html import PAGE_CSS, REPORT_HTML
from gameday.report.matrix_table import load_text
from gameday.report.svg import inline_svg, new_figure, plotting

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["MATRIX_HTML", "RtoPoint", "matrix_page", "rto_points", "run_link", "write_matrix_html"]

MATRIX_HTML = "matrix.html"
RTO = "rto.failover"
_MATRIX_CSS = """
td.runs a, td.runs span.run { margin-right: 4px; } .badges, .reads { white-space: nowrap; }
tr.not-expected td:first-child { border-left: 3px solid var(--fail); }
.reads.ok { color: var(--pass); font-weight: 600; } .reads.bad { color: var(--fail); font-weight: 600; }
.small { font-size: 12px; color: var(--muted); }
"""


def run_link(run: RunSummary, out_dir: Path) -> str | None:
    """Where a run's badge links, relative to ``out_dir``: its report.html, else its results.json,
    else its directory; ``None`` for a run without one."""
    if not run.run_dir:
        return None
    run_dir = Path(run.run_dir)
    target = next((run_dir / name for name in (REPORT_HTML, "results.json") if (run_dir / name).is_file()),
                  run_dir)
    return quote(Path(os.path.relpath(target, out_dir.resolve())).as_posix())


def _badge(run: RunSummary, number: int, out_dir: Path) -> str:
    notes = [f"failing: {', '.join(run.failing)}" if run.failing else "",
             f"unknown: {', '.join(run.unknown)}" if run.unknown else "",
             f"aborted: {run.error}" if run.error else "", "starved" if run.starved else "",
             "as expected" if run.as_expected else "NOT as expected"]
    title = f"run {number}: {run.verdict.value}; " + "; ".join(note for note in notes if note)
    text = run.verdict.value + ("*" if run.starved else "") + ("!" if run.error else "")
    badge = f'<span class="badge {escape(run.verdict.value)}">{escape(text)}</span>'
    href = run_link(run, out_dir)
    if href is None:
        return f'<span class="run" title="{escape(title)}">{badge}</span>'
    return f'<a class="run" href="{escape(href)}" title="{escape(title)}">{badge}</a>'


def _runs(runs: Sequence[RunSummary], out_dir: Path) -> str:
    if not runs:
        return '<span class="muted">—</span>'
    badges = "".join(_badge(run, number, out_dir) for number, run in enumerate(runs, start=1))
    failing = sorted({name for run in runs for name in run.failing})
    listed = f'<div class="small">failing: {escape(", ".join(failing))}</div>' if failing else ""
    return f'<span class="badges">{badges}</span>{listed}'


def _rto_cell(row: MatrixRow) -> str:
    values = [run.observed.get(RTO) for run in row.correct if RTO in run.observed]
    shown = ["never" if value is None else f"{value:.2f}" for value in values]
    return escape(" / ".join(shown) + " s") if shown else '<span class="muted">—</span>'


def _table(matrix: Matrix, out_dir: Path) -> str:
    rows = []
    for row in matrix.rows:
        reads = '<span class="reads ok">as expected</span>' if row.as_expected else \
            '<span class="reads bad">NOT as expected</span>'
        rows.append(
            f'<tr class="{"" if row.as_expected else "not-expected"}" id="row-{escape(row.scenario)}">'
            f"<td><b>{escape(row.scenario)}</b><div class=small>{escape(row.path)}</div></td><td>{reads}</td>"
            f'<td class="runs">{_runs(row.correct, out_dir)}</td><td class="num">{_rto_cell(row)}</td>'
            f"<td><code>{escape(', '.join(row.defects) or 'none declared')}</code></td>"
            f'<td class="runs">{_runs(row.defect, out_dir)}</td>'
            f"<td>{escape(', '.join(row.must_fail) or '—')}</td></tr>")
    head = ("<tr><th>scenario</th><th>reads</th><th>correct stack</th><th>RTO (correct)</th><th>defect</th>"
            "<th>defective stack</th><th>must fail</th></tr>")
    return f'<table class="matrix"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


@dataclass(frozen=True)
class RtoPoint:
    scenario: str
    variant: Variant
    repeat: int
    rto_s: float | None
    """``None``: trading never came back for good."""


def rto_points(matrix: Matrix) -> list[RtoPoint]:
    """Every run's RTO (the rows whose scenario measures one), correct and defective apart."""
    points = []
    for row in matrix.rows:
        for variant, runs in ((Variant.CORRECT, row.correct), (Variant.DEFECT, row.defect)):
            for repeat, run in enumerate(runs):
                if RTO not in run.observed:
                    continue
                value = run.observed[RTO]
                never = value is None and RTO in run.failing
                if value is not None or never:
                    points.append(RtoPoint(row.scenario, variant, repeat, None if value is None
                                           else float(value)))
    return points


def rto_figure(points: Sequence[RtoPoint]) -> Figure | None:
    """RTO per scenario across repeats: correct runs as dots, defective ones as crosses, "never"
    as a triangle on top."""
    if not points:
        return None
    scenarios = list(dict.fromkeys(point.scenario for point in points))
    measured = [point.rto_s for point in points if point.rto_s is not None]
    top = max(measured, default=1.0) * 1.15 + 0.2
    figure = new_figure(960.0, 250.0)
    axes = figure.add_axes((0.07, 0.34, 0.9, 0.56))
    styles: dict[Variant, dict[str, Any]] = {Variant.CORRECT: {"marker": "o", "color": "#1f77b4", "s": 22},
              Variant.DEFECT: {"marker": "x", "color": "#d62728", "s": 26}}
    for variant in Variant:
        chosen = [point for point in points if point.variant is variant]
        xs = [scenarios.index(point.scenario) + (-0.12 if variant is Variant.CORRECT else 0.12)
              + 0.05 * point.repeat for point in chosen]
        axes.scatter([x for x, point in zip(xs, chosen, strict=True) if point.rto_s is not None],
                     [point.rto_s for point in chosen if point.rto_s is not None],
                     label=f"{variant.value} stack", gid=f"rto-{variant.value}", **styles[variant])
        never = [x for x, point in zip(xs, chosen, strict=True) if point.rto_s is None]
        if never:
            axes.scatter(never, [top] * len(never), marker="^", color=styles[variant]["color"], s=30,
                         label=f"{variant.value}: never recovered", gid=f"rto-never-{variant.value}")
    axes.set_xticks(range(len(scenarios)), scenarios, rotation=25, ha="right")
    axes.set_xlim(-0.6, len(scenarios) - 0.4)
    axes.set_ylim(0, top * 1.08)
    axes.set_ylabel("RTO (s)")
    axes.grid(axis="y", color="#e3e3e3", linewidth=0.6)
    axes.set_axisbelow(True)
    axes.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, frameon=False, borderaxespad=0.0)
    return figure


def _rto_section(matrix: Matrix) -> str:
    with plotting():
        try:
            figure = rto_figure(rto_points(matrix))
            svg = None if figure is None else inline_svg(figure, "plot-rto", "RTO across repeats")
        except Exception as failure:  # the table matters more than the plot: say what broke
            return f'<p class="plot-error">the RTO plot could not be drawn: {escape(str(failure))}</p>'
    if svg is None:
        return '<p class="muted">No run measured an RTO (rto.failover).</p>'
    return f'<figure id="plot-rto"><figcaption>RTO across repeats ({RTO})</figcaption>{svg}</figure>'


def matrix_page(matrix: Matrix, out_dir: Path) -> str:
    runs = sum(len(row.correct) + len(row.defect) for row in matrix.rows)
    expected = "every row as expected" if matrix.as_expected else "NOT as expected"
    verdict = "pass" if matrix.as_expected else "fail"
    status = "" if matrix.complete else \
        f" — INCOMPLETE: {len(matrix.rows)} of {matrix.scenarios_planned} scenarios ran"
    title = f"Detection matrix: {expected}{status}"
    subtitle = (f"generated {matrix.generated} · {matrix.repeats} repeat(s) · {runs} runs · "
                f"{load_text(matrix)}")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{PAGE_CSS}{_MATRIX_CSS}</style></head><body>"
            f'<header class="verdict {verdict}"><h1>{escape(title)}</h1>'
            f"<p>{escape(subtitle)}</p></header><main>"
            '<section id="matrix"><h2>Scenarios</h2><p class="small">Each badge is one run and links to its '
            "report; * marks a starved run, ! an aborted one.</p>"
            f"{_table(matrix, out_dir)}</section>"
            f'<section id="rto"><h2>Recovery time across repeats</h2>{_rto_section(matrix)}</section>'
            "</main></body></html>\n")


def write_matrix_html(matrix: Matrix, out_dir: Path) -> Path:
    """Write ``matrix.html`` into ``out_dir`` (the matrix's reports root) and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / MATRIX_HTML
    path.write_text(matrix_page(matrix, out_dir), encoding="utf-8")
    return path
