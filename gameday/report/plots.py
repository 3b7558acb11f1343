"""The run's series plots, each a matplotlib figure drawn from :class:`ReportData` alone.

Every plot shares the time axis (seconds from the run's start) and shows the fault windows.
A plot with nothing to show is not made (``None``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gameday.report.data_model import ReportData, Series
from gameday.report.layout import LaneLayout
from gameday.report.metric_plots import metric_figure
from gameday.report.metric_series import PANELS
from gameday.report.plot_lanes import lanes_figure
from gameday.report.plot_style import Frame, colour, fault_tag_layout, frame, run_scale, text_width

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PLOTS", "Plot", "latency_figure", "locust_figure", "loop_lag_figure", "market_data_figure",
           "probes_figure", "rates_figure", "replication_figure"]

PLOT_PT = 140.0
MAX_MARKS = 20_000
"""A series with more points is drawn one in every few (every failure is always drawn)."""
ROW_PT = 16.0
_LATENCY_STYLE: dict[str, dict[str, Any]] = {
    "ok": {"marker": ".", "color": "#1f77b4", "s": 7, "linewidths": 0},
    "failed": {"marker": "x", "color": "#d62728", "s": 16, "linewidths": 0.9},
    "unknown": {"marker": "^", "color": "#e6a100", "s": 16, "linewidths": 0},
}
_RATE_STYLE: dict[str, dict[str, Any]] = {
    "sent": {"color": "#7f7f7f", "linewidth": 1.0},
    "ok": {"color": "#1f77b4", "linewidth": 1.4},
    "failed": {"color": "#d62728", "linewidth": 1.4},
    "unknown": {"color": "#e6a100", "linewidth": 1.4},
    "fills": {"color": "#2ca02c", "linewidth": 1.4, "linestyle": (0, (4, 1.5))},
}
_OK_SHADES = ("#2ca02c", "#1f77b4", "#9467bd", "#17becf", "#8c564b", "#bcbd22")
_LINE_SHADES = ("#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2")


def _tags(data: ReportData) -> LaneLayout:
    return fault_tag_layout(data, run_scale(data), text_width(weight="bold"))


def latency_figure(data: ReportData) -> Figure | None:
    """Each client order's latency at its send time; ok, failed and unknown outcomes apart."""
    if not any(len(series) for series in data.latency):
        return None
    plot = frame(data, PLOT_PT, tags=_tags(data))
    for series in data.latency:
        if not len(series):
            continue
        step = 1 if series.name != "ok" else max(1, -(-len(series) // MAX_MARKS))
        label = f"{series.name} ({len(series)}" + (f", 1 in {step} drawn)" if step > 1 else ")")
        plot.axes.scatter(series.t_s[::step], [max(value, 0.01) for value in series.values[::step]],
                          label=label, gid=f"latency-{series.name}", **_LATENCY_STYLE.get(series.name, {}))
    plot.axes.set_yscale("log")
    plot.axes.set_ylabel("order latency (ms)")
    plot.legend()
    return plot.figure


def rates_figure(data: ReportData) -> Figure | None:
    """Orders sent and completed, and fills, per second."""
    rates = data.rates
    if not rates.starts_s or not any(any(values) for values in rates.per_second.values()):
        return None
    plot = frame(data, PLOT_PT, tags=_tags(data))
    edges = [*rates.starts_s, round(rates.starts_s[-1] + rates.bucket_s, 3)]
    names = {"sent": "orders sent", "ok": "ok", "failed": "failed", "unknown": "unknown",
             "fills": f"fills ({data.orders.fills_source})"}
    for name, values in rates.per_second.items():
        if any(values) or name in ("sent", "ok"):
            plot.axes.stairs(values, edges, label=names.get(name, name), gid=f"rate-{name}",
                             **_RATE_STYLE.get(name, {}))
    plot.axes.set_ylim(bottom=0)
    plot.axes.set_ylabel(f"per second ({rates.bucket_s:g} s buckets)")
    plot.legend()
    return plot.figure


def _probe_style(name: str, ok_rank: int) -> dict[str, Any]:
    if name.startswith("ok on "):
        return {"marker": "o", "s": 9, "color": _OK_SHADES[ok_rank % len(_OK_SHADES)], "linewidths": 0}
    return {"failed": {"marker": "x", "s": 22, "color": "#d62728", "linewidths": 1.0},
            "unknown": {"marker": "^", "s": 20, "color": "#e6a100", "linewidths": 0},
            }.get(name, {"marker": "s", "s": 12, "color": "#7f7f7f", "linewidths": 0})


def _intervals(plot: Frame, data: ReportData, rows: int) -> None:
    """The measured intervals (the RTO) as bracketed spans above the probe rows, labelled."""
    for number, interval in enumerate(data.intervals):
        y = -0.9 - number * 0.8
        tone = colour(str(interval.verdict or "neutral"), verdict=True)
        bracket = plot.axes.annotate("", xy=(interval.end_s, y), xytext=(interval.start_s, y),
                                     arrowprops={"arrowstyle": "|-|" if not interval.open_ended else "]->",
                                                 "color": tone, "linewidth": 1.3, "shrinkA": 0, "shrinkB": 0,
                                                 "mutation_scale": 4})
        if bracket.arrow_patch is not None:
            bracket.arrow_patch.set_gid(f"interval-{interval.name}")
        right = plot.scale.pt(interval.end_s) + 60 < plot.scale.width_pt
        plot.axes.annotate(interval.label, xy=(interval.end_s if right else interval.start_s, y),
                           xytext=(4 if right else -4, 0), textcoords="offset points", va="center",
                           ha="left" if right else "right", color=tone, fontweight="bold",
                           gid=f"interval-label-{interval.name}")
    plot.axes.set_ylim(rows - 0.5, -0.5 - 0.8 * len(data.intervals) - (0.3 if data.intervals else 0))


def probes_figure(data: ReportData) -> Figure | None:
    """Every trade probe as a mark in its outcome's row (ok rows per instance), the RTO above."""
    if not data.probes:
        return None
    rows = len(data.probes)
    plot = frame(data, max(48.0, ROW_PT * (rows + 0.8 * len(data.intervals))), tags=_tags(data))
    ok_rank = 0
    for row, series in enumerate(data.probes):
        plot.axes.scatter(series.t_s, [row] * len(series), label=f"{series.name} ({len(series)})",
                          gid=f"probe-{row}", **_probe_style(series.name, ok_rank))
        ok_rank += series.name.startswith("ok on ")
    plot.axes.set_yticks(range(rows), [series.name for series in data.probes])
    plot.axes.tick_params(axis="y", length=0)
    _intervals(plot, data, rows)
    plot.axes.set_ylabel("trade probes")
    plot.legend()
    return plot.figure


def _lines(plot: Frame, found: tuple[Series, ...], prefix: str) -> None:
    for number, series in enumerate(found):
        dashed = series.name == "harness"
        plot.axes.plot(series.t_s, series.values, label=series.name, marker="." if not dashed else None,
                       markersize=3, linewidth=1.1, linestyle=(0, (3, 1.5)) if dashed else "-",
                       color="#555555" if dashed else _LINE_SHADES[number % len(_LINE_SHADES)],
                       gid=f"{prefix}-{number}")


def replication_figure(data: ReportData) -> Figure | None:
    """The replication lag each instance reported (``sut`` ``replication``)."""
    if not data.replication:
        return None
    plot = frame(data, PLOT_PT * 0.8, tags=_tags(data))
    _lines(plot, data.replication, "replication")
    plot.axes.set_ylim(bottom=0)
    plot.axes.set_ylabel("replication lag (ms)")
    plot.legend()
    return plot.figure


def loop_lag_figure(data: ReportData) -> Figure | None:
    """Event-loop lag of each SUT instance (its worst per sample) and of the harness; the load
    average on the right axis."""
    if not data.loop_lag and data.load is None:
        return None
    plot = frame(data, PLOT_PT * 0.8, tags=_tags(data))
    _lines(plot, data.loop_lag, "looplag")
    plot.axes.set_ylim(bottom=0)
    plot.axes.set_ylabel("event-loop lag (ms)")
    if data.load is not None:
        load_axes = plot.axes.twinx()
        load_axes.spines["right"].set_visible(True)
        load_axes.plot(data.load.t_s, data.load.values, color="#bcbd22", linewidth=1.4, label=data.load.name,
                       gid="load")
        load_axes.set_ylim(bottom=0)
        load_axes.set_ylabel("load average")
        handles, labels = plot.axes.get_legend_handles_labels()
        extra, extra_labels = load_axes.get_legend_handles_labels()
        plot.axes.legend(handles + extra, labels + extra_labels, loc="lower left",
                         bbox_to_anchor=(0.0, plot.legend_y), ncol=8, frameon=False, borderaxespad=0.0)
    else:
        plot.legend()
    return plot.figure


_LOCUST_STYLE: dict[str, dict[str, Any]] = {
    "requests/s": {"color": "#1f77b4", "linewidth": 1.4},
    "failures/s": {"color": "#d62728", "linewidth": 1.4},
    "p99 (ms)": {"color": "#7f7f7f", "linewidth": 1.1, "linestyle": (0, (3, 1.5))},
}


def locust_figure(data: ReportData) -> Figure | None:
    """The scenario's locust load: requests and failures per second; each second's p99 on the right."""
    if not data.locust:
        return None
    plot = frame(data, PLOT_PT * 0.8, tags=_tags(data))
    right = plot.axes.twinx()
    right.spines["right"].set_visible(True)
    for series in data.locust:
        axes = right if series.name.startswith("p99") else plot.axes
        axes.plot(series.t_s, series.values, label=series.name, marker=".", markersize=3,
                  gid=f"locust-{series.name.split()[0].strip('/s')}", **_LOCUST_STYLE.get(series.name, {}))
    plot.axes.set_ylim(bottom=0)
    plot.axes.set_ylabel("locust requests per second")
    right.set_ylim(bottom=0)
    right.set_ylabel("p99 (ms)")
    handles, labels = plot.axes.get_legend_handles_labels()
    extra, extra_labels = right.get_legend_handles_labels()
    plot.axes.legend(handles + extra, labels + extra_labels, loc="lower left",
                     bbox_to_anchor=(0.0, plot.legend_y), ncol=8, frameon=False, borderaxespad=0.0)
    return plot.figure


def market_data_figure(data: ReportData) -> Figure | None:
    """Each feed's age per instance (log ms) and, on the right, the feed each instance had selected."""
    if not data.feed_age and not data.selected_feed:
        return None
    plot = frame(data, PLOT_PT, tags=_tags(data))
    _lines(plot, data.feed_age, "feedage")
    plot.axes.set_yscale("log")
    plot.axes.set_ylabel("feed age (ms)")
    right = plot.axes.twinx()
    right.spines["right"].set_visible(True)
    for number, series in enumerate(data.selected_feed):
        right.step((*series.t_s, data.end_s), (*series.values, series.values[-1]), where="post",
                   label=f"{series.name} selected", linewidth=2.2, alpha=0.6,
                   color=_OK_SHADES[number % len(_OK_SHADES)], gid=f"selected-{number}")
    right.set_yticks([-1.0, *range(len(data.feed_names))], ["none", *data.feed_names])
    right.set_ylim(-1.5, max(len(data.feed_names), 1) - 0.5)
    right.set_ylabel("selected feed")
    handles, labels = plot.axes.get_legend_handles_labels()
    extra, extra_labels = right.get_legend_handles_labels()
    plot.axes.legend(handles + extra, labels + extra_labels, loc="lower left",
                     bbox_to_anchor=(0.0, plot.legend_y), ncol=6, frameon=False, borderaxespad=0.0)
    return plot.figure


@dataclass(frozen=True)
class Plot:
    key: str
    title: str
    draw: Callable[[ReportData], Figure | None]


PLOTS = (
    Plot("timeline", "Timeline: faults, measured intervals, actions, deploy, roles and health", lanes_figure),
    Plot("latency", "Order latency (client placements, at send time)", latency_figure),
    Plot("rates", "Orders and fills per second", rates_figure),
    Plot("probes", "Trade probes (\"can we trade?\") by outcome", probes_figure),
    Plot("locust", "Locust load (load:): requests, failures and p99 per second", locust_figure),
    Plot("market-data", "Market data: feed age per feed and instance, the selected feed, faults",
         market_data_figure),
    Plot("replication", "Replication lag", replication_figure),
    Plot("looplag", "Event-loop lag and machine load", loop_lag_figure),
    *(Plot(f"metrics-{key}", f"Scraped metrics: {title}; alert firings shaded, the stop line dashed",
           metric_figure(key)) for key, title, _ in PANELS),
)
"""Every plot of a run's report, in page order."""
