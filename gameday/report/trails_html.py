"""The report's "Order trails" section: each failed or ghost order's lines across the services' logs."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from gameday.report.data_model import OrderTrail, StopMark

__all__ = ["stop_html", "trails_html"]


def _line_row(t_s: float | None, service: str, level: str, event: str, msg: str, ids: dict[str, str]) -> str:
    when = "" if t_s is None else f"t+{t_s:.3f} s"
    joined = " ".join(f"{key}={value}" for key, value in ids.items())
    cells = (when, service, level, event, msg, joined)
    return "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>"


def trails_html(trails: Sequence[OrderTrail]) -> str:
    if not trails:
        return ("<p>No trail: no failed or ghost order carried an id found in the collected structured logs "
                "(or the target names no log files).</p>")
    parts = []
    for trail in trails:
        rows = "".join(_line_row(line.t_s, line.service, line.level, line.event, line.msg, line.ids)
                       for line in trail.lines)
        more = f"<p>… and {trail.more} more line(s) in logs/.</p>" if trail.more else ""
        parts.append(f"<h3>{escape(trail.subject)}</h3><p>{escape(trail.why)}</p>"
                     "<table><thead><tr><th>when</th><th>service</th><th>level</th><th>event</th><th>message</th>"
                     f"<th>ids</th></tr></thead><tbody>{rows}</tbody></table>{more}")
    return "".join(parts)


def stop_html(stop: StopMark | None) -> str:
    if stop is None:
        return ""
    return (f'<div class="banner aborted"><b>A stop line was crossed</b> at t+{stop.t_s:.2f} s '
            f"({escape(stop.condition)}): {escape(stop.reason)}</div>")
