"""Plots of the services' scraped metrics: one per panel (:mod:`gameday.report.metric_series`), each
with the scenario's alert firings shaded and labelled and the stop line, if one aborted the run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from gameday.report.data_model import MetricPanel, ReportData
from gameday.report.plot_style import Frame, fault_tag_layout, frame, run_scale, text_width

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["ALERT_COLOUR", "STOP_COLOUR", "metric_figure"]

PLOT_PT = 112.0
ALERT_COLOUR = "#d62728"
STOP_COLOUR = "#000000"
_SHADES = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f")


def _marks(plot: Frame, data: ReportData) -> None:
    for number, alert in enumerate(data.alerts):
        end = data.end_s if alert.resolved_s is None else alert.resolved_s
        plot.axes.axvspan(alert.fired_s, max(end, alert.fired_s + 0.05), color=ALERT_COLOUR, alpha=0.12,
                          linewidth=0, gid=f"alert-{number}")
        plot.axes.annotate(f"⚑ {alert.name}", xy=(alert.fired_s, 1.0), xycoords=("data", "axes fraction"),
                           xytext=(2, -2), textcoords="offset points", va="top", color=ALERT_COLOUR,
                           gid=f"alert-label-{number}")
    if data.stop is not None:
        plot.axes.axvline(data.stop.t_s, color=STOP_COLOUR, linewidth=1.6, linestyle=(0, (4, 2)), gid="stop")
        plot.axes.annotate(f"stop: {data.stop.condition}", xy=(data.stop.t_s, 0.0),
                           xycoords=("data", "axes fraction"), xytext=(3, 3), textcoords="offset points",
                           color=STOP_COLOUR, fontweight="bold", gid="stop-label")


def _panel_figure(data: ReportData, panel: MetricPanel) -> Figure:
    plot = frame(data, PLOT_PT, tags=fault_tag_layout(data, run_scale(data), text_width(weight="bold")))
    for number, series in enumerate(panel.series):
        plot.axes.plot(series.t_s, series.values, label=series.name, marker=".", markersize=2.5,
                       linewidth=1.1, color=_SHADES[number % len(_SHADES)], gid=f"{panel.key}-{number}")
    _marks(plot, data)
    plot.axes.set_ylabel(panel.title.split(":")[0].lower())
    plot.legend(columns=4)
    return plot.figure


def metric_figure(key: str) -> Callable[[ReportData], Figure | None]:
    """The plot of one scraped panel (``None`` when nothing of it was scraped)."""
    def draw(data: ReportData) -> Figure | None:
        panel = next((panel for panel in data.scraped if panel.key == key), None)
        return None if panel is None else _panel_figure(data, panel)
    return draw
