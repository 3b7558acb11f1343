"""Where lane items and their labels go: packed in rows so that no two boxes in a row overlap.

Pure geometry in points (the SVG's unit): a :class:`Scale` maps run time to the plot's width, a
text-width function says how wide a label is. An item's box holds its bar or instant mark and
its label; items go to the first row where their box clears the last one by :data:`GAP_PT`. A
lane never grows past ``max_rows``: what does not fit goes to one more row with its mark and no
label (counted as hidden). A state (a role, a health reading) keeps its row and shows its label
inside its bar only when it fits there.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gameday.report.data_model import Lane, LaneItem, LaneKind

__all__ = [
    "GAP_PT",
    "MARK_PT",
    "MAX_ROWS",
    "LaneLayout",
    "Placed",
    "Scale",
    "TextWidth",
    "approximate_width",
    "layout_lane",
    "overlaps",
]

TextWidth = Callable[[str], float]
"""A label's width in points at the lane font size."""
GAP_PT = 4.0
MARK_PT = 3.0
PAD_PT = 2.0
MAX_ROWS = 6


def approximate_width(font_pt: float) -> TextWidth:
    """A text width without a font at hand (tests, estimates): a generous average glyph width."""
    return lambda text: len(text) * 0.62 * font_pt


@dataclass(frozen=True)
class Scale:
    """Run time ``start_s``..``end_s`` across ``width_pt`` points."""

    start_s: float
    end_s: float
    width_pt: float

    @property
    def pt_per_s(self) -> float:
        return self.width_pt / max(self.end_s - self.start_s, 1e-9)

    def pt(self, t_s: float) -> float:
        return (t_s - self.start_s) * self.pt_per_s

    def s(self, pt: float) -> float:
        return self.start_s + pt / self.pt_per_s


@dataclass(frozen=True)
class Placed:
    """One lane item placed: its row, the box it takes and where its label starts (if shown)."""

    index: int
    row: int
    x0_pt: float
    x1_pt: float
    label_x_pt: float
    show_label: bool


@dataclass(frozen=True)
class LaneLayout:
    key: str
    rows: int
    placed: tuple[Placed, ...]

    @property
    def hidden(self) -> int:
        return sum(not placed.show_label for placed in self.placed)

    def in_row(self, row: int) -> list[Placed]:
        return [placed for placed in self.placed if placed.row == row]


def overlaps(boxes: Sequence[Placed], gap_pt: float = 0.0) -> list[tuple[Placed, Placed]]:
    """Pairs of labelled boxes in one row closer than ``gap_pt`` (what a layout must never produce)."""
    found = []
    labelled = sorted((box for box in boxes if box.show_label), key=lambda box: (box.row, box.x0_pt))
    for first, second in itertools.pairwise(labelled):
        if first.row == second.row and second.x0_pt < first.x1_pt + gap_pt:
            found.append((first, second))
    return found


def _state_layout(lane: Lane, scale: Scale, width: TextWidth) -> LaneLayout:
    placed = []
    for index, item in enumerate(lane.items):
        x0 = scale.pt(item.start_s)
        x1 = scale.pt(item.start_s if item.end_s is None else item.end_s)
        fits = width(item.label) + 2 * PAD_PT <= x1 - x0
        placed.append(Placed(index, 0, x0, x1, x0 + PAD_PT, fits))
    return LaneLayout(lane.key, 1, tuple(placed))


def _event_box(item: LaneItem, scale: Scale, width: TextWidth) -> tuple[float, float, float]:
    """The box (x0, x1) an event takes with its label, and where the label starts: right of its
    mark, or left of it when it would run past the plot's right edge."""
    at = scale.pt(item.start_s)
    label = width(item.label)
    if item.end_s is None:
        mark0, mark1 = at - MARK_PT, at + MARK_PT
        label_x = mark1 + 1
        if label_x + label > scale.width_pt:
            label_x = mark0 - 1 - label
    else:
        mark0, mark1 = at, max(scale.pt(item.end_s), at + 1)
        label_x = at + PAD_PT
        if label_x + label > scale.width_pt:
            label_x = mark1 - PAD_PT - label
    label_x = max(label_x, 0.0)
    return min(mark0, label_x), max(mark1, label_x + label), label_x


def _event_layout(lane: Lane, scale: Scale, width: TextWidth, max_rows: int) -> LaneLayout:
    right: list[float] = []
    placed = []
    order = sorted(range(len(lane.items)), key=lambda n: (lane.items[n].start_s, n))
    for index in order:
        item = lane.items[index]
        x0, x1, label_x = _event_box(item, scale, width)
        row = next((r for r, edge in enumerate(right) if edge + GAP_PT <= x0), None)
        if row is None and len(right) < max_rows:
            row = len(right)
            right.append(float("-inf"))
        if row is None:
            at = scale.pt(item.start_s)
            end = at if item.end_s is None else scale.pt(item.end_s)
            placed.append(Placed(index, max_rows, at - MARK_PT, max(end, at + MARK_PT), label_x, False))
            continue
        right[row] = x1
        placed.append(Placed(index, row, x0, x1, label_x, True))
    rows = len(right) + any(not box.show_label for box in placed)
    return LaneLayout(lane.key, max(rows, 1), tuple(sorted(placed, key=lambda box: box.index)))


def layout_lane(lane: Lane, scale: Scale, width: TextWidth, max_rows: int = MAX_ROWS) -> LaneLayout:
    if lane.kind is LaneKind.STATES:
        return _state_layout(lane, scale, width)
    return _event_layout(lane, scale, width, max_rows)
