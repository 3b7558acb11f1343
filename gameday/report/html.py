"""``report.html``: one self-contained page a person reads after a game day.

The verdict and the run's identity on top, the postmortem summary, the expectations with their
evidence, the plots over run time (SVG inline: no script, no stylesheet, no font and no image is
fetched from anywhere), the fault table and links to the run's logs and raw files. The data the
plots draw (:class:`ReportData`) is embedded as JSON too. A plot that fails to draw is reported
in its place; it never stops the page from being written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from gameday.history import Op
from gameday.report.data import ReportData, build_report_data
from gameday.report.html_parts import (
    RunFiles,
    RunInfo,
    expectations_html,
    faults_html,
    files_html,
    identity_html,
    verdict_badge,
)
from gameday.report.plot_workers import map_in_workers
from gameday.report.plots import PLOTS, Plot
from gameday.report.summary import summary_markdown
from gameday.report.svg import inline_svg, plotting
from gameday.report.trails_html import stop_html, trails_html
from gameday.verdict import RunResult

__all__ = ["PAGE_CSS", "REPORT_HTML", "RenderedPlot", "render_plots", "report_page", "write_html_report"]

REPORT_HTML = "report.html"
PAGE_CSS = """
:root { --pass: #1e8e3e; --fail: #c5221f; --unknown: #b06000; --muted: #666; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1a1a1a;
       background: #fafafa; }
main { max-width: 1320px; margin: 0 auto; padding: 16px 20px 48px; }
header.verdict { padding: 14px 20px; color: #fff; }
header.verdict h1 { margin: 0; font-size: 22px; }
header.verdict p { margin: 4px 0 0; opacity: .92; }
header.pass { background: var(--pass); } header.fail { background: var(--fail); }
header.unknown { background: var(--unknown); }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 8px 0 4px; }
.badge { display: inline-block; padding: 1px 7px; border-radius: 3px; font-size: 12px; font-weight: 600;
         color: #fff; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.unknown { background: var(--unknown); }
.banner { padding: 8px 12px; margin: 12px 0; border-left: 4px solid; background: #fff; }
.banner.starved { border-color: #8e24aa; } .banner.aborted { border-color: var(--fail); }
dl.identity { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0; }
dl.identity dt { color: var(--muted); } dl.identity dd { margin: 0; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid #e5e5e5; }
th { background: #f0f0f0; font-weight: 600; }
.nowrap { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.fail td:first-child { border-left: 3px solid var(--fail); }
tr.unknown td:first-child { border-left: 3px solid var(--unknown); }
details pre { max-height: 420px; overflow: auto; background: #f6f6f6; padding: 8px; font-size: 12px;
              margin: 4px 0 0; white-space: pre-wrap; word-break: break-word; }
summary { cursor: pointer; color: #1a5fb4; }
.error { color: var(--fail); }
.muted { color: var(--muted); } .small { font-size: 12px; }
figure { margin: 14px 0 22px; background: #fff; padding: 6px 0; border: 1px solid #e5e5e5; }
figcaption { font-weight: 600; padding: 2px 12px 4px; }
svg.plot { display: block; width: 100%; height: auto; }
.plot-error { color: var(--fail); padding: 8px 12px; }
pre.summary { background: #fff; border: 1px solid #e5e5e5; padding: 10px 12px; white-space: pre-wrap; }
.files { display: flex; flex-wrap: wrap; gap: 8px 48px; }
.files ul { margin: 0; padding-left: 18px; }
"""


@dataclass(frozen=True)
class RenderedPlot:
    key: str
    title: str
    svg: str | None = None
    error: str | None = None


def render_plots(data: ReportData, workers: int = 1) -> list[RenderedPlot]:
    """Every plot that has something to show, as inline SVG; one that fails carries its error.
    ``workers`` > 1 draws them in that many processes (:func:`map_in_workers`: only from a process
    with no other thread)."""
    def draw(plot: Plot) -> dict[str, str] | None:
        try:
            figure = plot.draw(data)
            return None if figure is None else {"svg": inline_svg(figure, f"plot-{plot.key}", plot.title)}
        except Exception as failure:  # a plot is not worth the page: say what broke, draw the rest
            return {"error": f"{type(failure).__name__}: {failure}"}

    with plotting():
        drawn = map_in_workers(PLOTS, draw, workers)
    return [RenderedPlot(plot.key, plot.title, svg=found.get("svg"), error=found.get("error"))
            for plot, found in zip(PLOTS, drawn, strict=True) if found is not None]


def _figure(plot: RenderedPlot) -> str:
    body = plot.svg if plot.svg is not None else \
        f'<p class="plot-error">this plot could not be drawn: {escape(plot.error or "")}</p>'
    caption = f"<figcaption>{escape(plot.title)}</figcaption>"
    return f'<figure id="plot-{escape(plot.key)}">{caption}{body}</figure>'


def _banners(result: RunResult) -> str:
    banners = []
    if result.abort_reason:
        banners.append(f'<div class="banner aborted"><b>The run aborted</b>: {escape(result.abort_reason)}. '
                       "Its expectations were graded on a partial history.</div>")
    if result.starvation is not None and result.starvation.starved:
        banners.append(f'<div class="banner starved"><b>The machine was starved</b> '
                       f"({escape(', '.join(result.starvation.reasons))}): timings may say more about the "
                       "machine than about the system under test. The verdict is unchanged.</div>")
    return "".join(banners)


def _json_script(data: ReportData) -> str:
    text = data.model_dump_json().replace("</", "<\\/").replace("<!--", "<\\!--")
    return f'<script type="application/json" id="report-data">{text}</script>'


def report_page(result: RunResult, data: ReportData, info: RunInfo, files: RunFiles,
                plots: Sequence[RenderedPlot]) -> str:
    """The whole page as text."""
    verdict = result.verdict.value
    title = f"{result.scenario}: {verdict.upper()}"
    subtitle = " · ".join(part for part in (
        f"run {result.run_id}" if result.run_id else "", f"seed {result.seed}",
        f"defects: {', '.join(result.defects)}" if result.defects else "correct stack",
        info.target and f"target {info.target}") if part)
    sections = [
        f'<header class="verdict {escape(verdict)}"><h1>{escape(title)}</h1>'
        f"<p>{escape(subtitle)}</p></header>",
        "<main>", _banners(result), stop_html(data.stop),
        '<section id="identity"><h2>Run</h2>', identity_html(result, info, data), "</section>",
        '<section id="summary"><h2>Summary</h2>',
        f'<pre class="summary">{escape(summary_markdown(result, data))}</pre></section>',
        f'<section id="expectations"><h2>Expectations {verdict_badge(verdict)}</h2>',
        expectations_html(result.expectations), "</section>",
        '<section id="plots"><h2>Over run time</h2>', *(_figure(plot) for plot in plots), "</section>",
        '<section id="faults"><h2>Faults</h2>', faults_html(data.faults), "</section>",
        '<section id="trails"><h2>Order trails</h2>', trails_html(data.trails), "</section>",
        '<section id="files"><h2>Files</h2>', files_html(files), "</section>",
        "</main>", _json_script(data),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{PAGE_CSS}</style></head><body>"
            + "\n".join(sections) + "</body></html>\n")


def write_html_report(result: RunResult, ops: Sequence[Op], run_dir: Path, *,
                      data: ReportData | None = None, plot_workers: int = 1) -> Path:
    """Write ``report.html`` into ``run_dir`` and return its path."""
    data = data if data is not None else build_report_data(ops, result.expectations)
    page = report_page(result, data, RunInfo.read(run_dir, ops), RunFiles.scan(run_dir),
                       render_plots(data, plot_workers))
    path = run_dir / REPORT_HTML
    path.write_text(page, encoding="utf-8")
    return path
