"""Matplotlib figures as SVG text to inline in a page, without pyplot or any global backend.

Figures are made with :class:`matplotlib.figure.Figure` and printed by the SVG canvas alone, under
an rc context (no global state is changed). Text is drawn as glyph paths, so a page looks the
same whatever fonts the reader has. Several SVGs share one HTML document, so every id a figure
defines is given the figure's own prefix; the XML prologue, metadata and comments (which repeat
label text) are left out.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["FONT_PT", "inline_svg", "new_figure", "plotting", "preload", "safe_id"]

FONT_PT = 7.5
STYLE: dict[str, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "gameday-report",
    "font.family": "DejaVu Sans",
    "font.size": FONT_PT,
    "axes.titlesize": 9,
    "axes.labelsize": FONT_PT,
    "xtick.labelsize": FONT_PT,
    "ytick.labelsize": FONT_PT,
    "legend.fontsize": FONT_PT,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "path.simplify": True,
}
_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)
_ID = re.compile(r'\bid="([^"]+)"')
_REFERENCE = re.compile(r'(xlink:href="#|href="#|url\(#)([^")]+)')
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


def safe_id(text: str) -> str:
    """``text`` as an id fragment: letters, digits, ``_`` and ``-`` only."""
    return _NOT_ID.sub("_", text).strip("_") or "x"


def preload() -> None:
    """Import what drawing a figure needs and read the report's font once (most of the first
    figure's cost), so that whoever draws next finds them loaded."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401
    from matplotlib.font_manager import FontProperties, findfont

    findfont(FontProperties(family=STYLE["font.family"]))


@contextmanager
def plotting() -> Iterator[None]:
    """The report's plot style, for the figures made and printed inside it."""
    import matplotlib

    with matplotlib.rc_context(cast(Any, STYLE)):
        yield


def new_figure(width_pt: float, height_pt: float) -> Figure:
    """A figure printed by the SVG canvas (one unit of the SVG is one point)."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_pt / 72, height_pt / 72), dpi=72)
    FigureCanvasSVG(figure)
    return figure


def inline_svg(figure: Figure, prefix: str, label: str) -> str:
    """The figure as an ``<svg>`` element for an HTML page: its ids prefixed with ``prefix``."""
    from html import escape

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = _COMMENT.sub("", _METADATA.sub("", _PROLOGUE.sub("", buffer.getvalue(), count=1)))
    prefix = safe_id(prefix)
    text = _ID.sub(lambda match: f'id="{prefix}-{match.group(1)}"', text)
    text = _REFERENCE.sub(lambda match: f"{match.group(1)}{prefix}-{match.group(2)}", text)
    return text.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" class="plot" ', 1).strip()
