"""What every plot of a run shares: the geometry (so their time axes line up on the page), the
palette, the time axis and the fault windows drawn over it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gameday.report.data_model import FaultWindow, Lane, LaneItem, LaneKind, ReportData
from gameday.report.layout import LaneLayout, Scale, TextWidth, layout_lane
from gameday.report.svg import FONT_PT, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FAULT_COLOUR",
    "HEAL_COLOUR",
    "LEFT_PT",
    "RIGHT_PT",
    "WIDTH_PT",
    "Frame",
    "colour",
    "fault_tag_layout",
    "frame",
    "run_scale",
    "text_colour",
    "text_width",
]

WIDTH_PT, LEFT_PT, RIGHT_PT = 960.0, 150.0, 56.0
"""Every figure is as wide, with the same margins: one instant is at one x on every plot."""
TAG_ROW_PT = 10.0
LEGEND_PT = 18.0
BOTTOM_PT = 30.0
FAULT_COLOUR, HEAL_COLOUR = "#d62728", "#2ca02c"

PALETTE = {
    "active": "#2ca02c", "standby": "#1f77b4", "fenced": "#7b3294", "shadow": "#9ab7d3",
    "parked": "#ff7f0e", "dormant": "#c7c7c7", "down": "#555555", "unknown": "#eeeeee",
    "health:deep ok": "#a6dba0", "health:not deep ok": "#f6c667", "health:no answer": "#d6604d",
    "ok": "#2ca02c", "fail": "#d62728", "fault": "#d62728", "alert": "#ff7f0e", "neutral": "#888888",
    "pass": "#2ca02c", "unknown-verdict": "#e6a100", "held": "#f6c667", "route": "#9ecae1",
    "decision:suspect": "#e6a100", "decision:promote": "#1f77b4", "decision:promoted": "#08519c",
    "decision:suppressed": "#7b3294",
    "phase:launch": "#c6dbef", "phase:shadow / verify": "#9ecae1", "phase:canary (live split)": "#fdae6b",
    "phase:split (both live)": "#fd8d3c", "phase:cutover": "#e6550d", "phase:rollback window": "#a1d99b",
    "phase:rollback": "#de2d26", "phase:retire blue": "#74c476", "phase:abort": "#969696",
}
_TONE_ALIASES = {"unknown": "unknown-verdict"}


def colour(tone: str, *, verdict: bool = False) -> str:
    if verdict:
        tone = _TONE_ALIASES.get(tone, tone)
    return PALETTE.get(tone, PALETTE["neutral"] if not tone.startswith("phase:") else "#bdbdbd")


def text_colour(background: str) -> str:
    """Black or white, whichever reads on ``background`` (a ``#rrggbb`` colour)."""
    red, green, blue = (int(background[n:n + 2], 16) for n in (1, 3, 5))
    return "#000000" if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else "#ffffff"


def text_width(font_pt: float = FONT_PT, weight: str = "normal") -> TextWidth:
    """Label widths as matplotlib will draw them (the glyph paths of the report's font)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    measure, font = TextToPath(), FontProperties(family="DejaVu Sans", size=font_pt, weight=weight)
    return lambda text: float(measure.get_text_width_height_descent(text, font, ismath=False)[0])


def run_scale(data: ReportData) -> Scale:
    return Scale(0.0, max(data.end_s, 1.0), WIDTH_PT - LEFT_PT - RIGHT_PT)


def fault_tag_layout(data: ReportData, scale: Scale, width: TextWidth) -> LaneLayout:
    """Where the fault tags (F1, F2...) go above a plot: in rows, never on top of each other."""
    tags = Lane(key="fault-tags", title="", kind=LaneKind.EVENTS,
                items=tuple(LaneItem(label=fault.tag, start_s=fault.start_s) for fault in data.faults))
    return layout_lane(tags, scale, width, max_rows=3)


@dataclass(frozen=True)
class Frame:
    figure: Figure
    axes: Axes
    scale: Scale
    legend_y: float
    """Where a legend goes, above the fault tags (in axes fraction)."""

    def legend(self, columns: int = 8) -> None:
        handles, labels = self.axes.get_legend_handles_labels()
        if handles:
            self.axes.legend(handles, labels, loc="lower left", bbox_to_anchor=(0.0, self.legend_y),
                             ncol=min(columns, len(handles)), frameon=False, borderaxespad=0.0,
                             handlelength=1.6, columnspacing=1.4, markerscale=1.2)


def frame(data: ReportData, plot_pt: float, *, tags: LaneLayout, legend: bool = True) -> Frame:
    """A figure with one axes over run time, its plot area ``plot_pt`` high, margins in points."""
    scale = run_scale(data)
    tag_pt = tags.rows * TAG_ROW_PT * bool(tags.placed) + 4.0
    height = tag_pt + (LEGEND_PT if legend else 0.0) + plot_pt + BOTTOM_PT
    figure = new_figure(WIDTH_PT, height)
    axes = figure.add_axes((LEFT_PT / WIDTH_PT, BOTTOM_PT / height, scale.width_pt / WIDTH_PT,
                            plot_pt / height))
    _time_axis(axes, scale)
    _faults(figure, axes, data.faults, tags, scale)
    return Frame(figure, axes, scale, legend_y=1.0 + tag_pt / plot_pt)


def _time_axis(axes: Axes, scale: Scale) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullLocator

    axes.set_xlim(scale.start_s, scale.end_s)
    axes.xaxis.set_major_locator(MaxNLocator(nbins=16, steps=[1, 2, 2.5, 5, 10], min_n_ticks=4))
    axes.xaxis.set_minor_locator(NullLocator())  # a tick is costly to draw; the grid marks the majors
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.set_xlabel("seconds from run start", labelpad=2)
    axes.grid(axis="x", which="major", color="#e3e3e3", linewidth=0.6)
    axes.set_axisbelow(True)


def _faults(figure: Figure, axes: Axes, faults: Sequence[FaultWindow], tags: LaneLayout,
            scale: Scale) -> None:
    """Every fault window shaded (an instant fault as a line), heals dashed, tags above the plot."""
    from matplotlib.transforms import offset_copy

    for fault in faults:
        if fault.end_s is None:
            axes.axvline(fault.start_s, color=FAULT_COLOUR, linewidth=1.2,
                         alpha=0.8 if fault.applied else 0.35, gid=f"fault-{fault.tag}")
        else:
            axes.axvspan(fault.start_s, fault.end_s, color=FAULT_COLOUR, alpha=0.12, linewidth=0,
                         gid=f"fault-{fault.tag}")
        if fault.heal_s is not None:
            axes.axvline(fault.heal_s, color=HEAL_COLOUR, linewidth=1.0, linestyle=(0, (3, 2)),
                         gid=f"heal-{fault.tag}")
    base = axes.get_xaxis_transform()
    for placed in tags.placed:
        if not placed.show_label:
            continue
        fault = faults[placed.index]
        at = offset_copy(base, fig=figure, y=2 + placed.row * TAG_ROW_PT, units="points")
        axes.text(scale.s(placed.label_x_pt), 1.0, fault.tag, transform=at, fontsize=FONT_PT,
                  color=FAULT_COLOUR, fontweight="bold", va="bottom", ha="left",
                  gid=f"tag-{fault.tag}-r{placed.row}")
