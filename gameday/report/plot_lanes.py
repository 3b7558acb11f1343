"""The timeline plot: one band per lane (faults, measured intervals, operator, deploy phases,
deployer actions, front door, failover daemons, alerts, then each instance's role and health).

:func:`timeline_layout` is the geometry, pure: each lane's band and the rows its labels were
packed in (:mod:`gameday.report.layout`); :func:`lanes_figure` draws exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gameday.report.data_model import Lane, LaneKind, ReportData
from gameday.report.layout import LaneLayout, Scale, TextWidth, layout_lane
from gameday.report.plot_style import (
    FAULT_COLOUR,
    HEAL_COLOUR,
    colour,
    fault_tag_layout,
    frame,
    run_scale,
    text_colour,
    text_width,
)
from gameday.report.svg import FONT_PT, safe_id

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["LANE_ROW_PT", "Band", "TimelineLayout", "label_gid", "lanes_figure", "timeline_layout"]

LANE_ROW_PT = 13.0
LANE_PAD_PT = 3.0
STATE_ROW_PT = 15.0


@dataclass(frozen=True)
class Band:
    lane: Lane
    layout: LaneLayout
    top_pt: float
    height_pt: float

    def row_centre(self, row: int) -> float:
        if self.lane.kind is LaneKind.STATES:
            return self.top_pt + self.height_pt / 2
        return self.top_pt + LANE_PAD_PT + (row + 0.5) * LANE_ROW_PT


@dataclass(frozen=True)
class TimelineLayout:
    scale: Scale
    bands: tuple[Band, ...]

    @property
    def height_pt(self) -> float:
        return sum(band.height_pt for band in self.bands)

    def band(self, key: str) -> Band | None:
        return next((band for band in self.bands if band.lane.key == key), None)


def timeline_layout(data: ReportData, width: TextWidth) -> TimelineLayout:
    """Each lane's band, top to bottom, with its labels packed in rows."""
    scale = run_scale(data)
    bands, top = [], 0.0
    for lane in data.lanes:
        layout = layout_lane(lane, scale, width)
        height = STATE_ROW_PT + 2 * LANE_PAD_PT if lane.kind is LaneKind.STATES else \
            layout.rows * LANE_ROW_PT + 2 * LANE_PAD_PT
        bands.append(Band(lane, layout, top, height))
        top += height
    return TimelineLayout(scale, tuple(bands))


def label_gid(lane: Lane, row: int, index: int) -> str:
    """The SVG id of a label: its lane and row are in it, so a browser can check the layout."""
    return f"label-{safe_id(lane.key)}-r{row}-{index}"


def _title(band: Band) -> str:
    hidden = band.layout.hidden if band.lane.kind is LaneKind.EVENTS else 0
    return band.lane.title + (f" (+{hidden} unlabelled)" if hidden else "")


def _draw_states(axes: Axes, band: Band, scale: Scale) -> None:
    top = band.top_pt + LANE_PAD_PT
    for placed in band.layout.placed:
        item = band.lane.items[placed.index]
        end = item.start_s if item.end_s is None else item.end_s
        fill = colour(item.tone)
        down = item.tone == "down"
        axes.broken_barh([(item.start_s, end - item.start_s)], (top, STATE_ROW_PT), facecolors=fill,
                         edgecolors="#747474" if down else "#ffffff", linewidth=0 if down else 0.4,
                         hatch="////" if down else None, gid=f"state-{safe_id(band.lane.key)}-{placed.index}")
        if placed.show_label:
            axes.text(scale.s(placed.label_x_pt), band.row_centre(0), item.label, va="center", ha="left",
                      color=text_colour(fill), gid=label_gid(band.lane, 0, placed.index))


def _draw_events(axes: Axes, band: Band, scale: Scale) -> None:
    if not band.lane.items:
        axes.text(scale.s(2.0), band.row_centre(0), "none", va="center", ha="left", color="#888888",
                  fontstyle="italic")
    for placed in band.layout.placed:
        item = band.lane.items[placed.index]
        tone = colour(item.tone, verdict=band.lane.key == "measured")
        centre = band.row_centre(placed.row)
        half = LANE_ROW_PT * 0.36
        if item.end_s is None:
            axes.vlines(item.start_s, centre - half, centre + half, colors=tone, linewidth=2.0,
                        gid=f"mark-{safe_id(band.lane.key)}-{placed.index}")
        else:
            axes.broken_barh([(item.start_s, max(item.end_s - item.start_s, 1e-6))],
                             (centre - half, 2 * half), facecolors=tone, alpha=0.35, edgecolors=tone,
                             linewidth=0.8, gid=f"span-{safe_id(band.lane.key)}-{placed.index}")
        if placed.show_label:
            axes.text(scale.s(placed.label_x_pt), centre, item.label, va="center", ha="left", color="#111111",
                      gid=label_gid(band.lane, placed.row, placed.index))


def _legend(axes: Axes, data: ReportData, legend_y: float) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    tones = dict.fromkeys(item.tone for lane in data.lanes if lane.kind is LaneKind.STATES
                          and lane.key != "frontdoor" for item in lane.items)
    handles: list[Patch | Line2D] = [
        Patch(facecolor=FAULT_COLOUR, alpha=0.25, label="fault window"),
        Line2D([], [], color=FAULT_COLOUR, linewidth=1.2, label="kill (instant)"),
        Line2D([], [], color=HEAL_COLOUR, linestyle=(0, (3, 2)), label="heal"),
    ]
    handles += [Patch(facecolor=colour(tone), label=tone.removeprefix("health:"),
                      hatch="////" if tone == "down" else None) for tone in tones]
    axes.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, legend_y), ncol=min(len(handles), 11),
                frameon=False, borderaxespad=0.0, handlelength=1.4, columnspacing=1.0, fontsize=FONT_PT)


def lanes_figure(data: ReportData) -> Figure | None:
    """Every lane over run time; labels where :func:`timeline_layout` put them."""
    if not data.lanes:
        return None
    layout = timeline_layout(data, text_width())
    scale = layout.scale
    plot = frame(data, layout.height_pt, tags=fault_tag_layout(data, scale, text_width(weight="bold")))
    axes = plot.axes
    axes.set_ylim(layout.height_pt, 0)
    axes.set_yticks([band.top_pt + band.height_pt / 2 for band in layout.bands],
                    [_title(band) for band in layout.bands])
    axes.tick_params(axis="y", length=0)
    for number, band in enumerate(layout.bands):
        if number % 2:
            axes.axhspan(band.top_pt, band.top_pt + band.height_pt, color="#f4f4f4", zorder=0, linewidth=0)
        if number:
            axes.axhline(band.top_pt, color="#d0d0d0", linewidth=0.5)
        if band.lane.kind is LaneKind.STATES:
            _draw_states(axes, band, scale)
        else:
            _draw_events(axes, band, scale)
    _legend(axes, data, plot.legend_y)
    return plot.figure
