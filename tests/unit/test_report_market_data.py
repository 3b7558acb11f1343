"""The report's market-data plot (gameday.report.feed_series, plots.market_data_figure): each feed's
age per instance and the selected feed over run time, drawn from a history's ``oms.feeds`` events."""

from __future__ import annotations

import io
from typing import Any

from gameday.report.data import build_report_data
from gameday.report.plots import PLOTS, market_data_figure
from tests.unit.history_builder import HistoryBuilder


def _feeds(history: HistoryBuilder, at: float, selected: str | None, ages: dict[str, float],
           instance: str = "oms-primary") -> None:
    feeds: dict[str, Any] = {name: {"health": "healthy", "age_ms": age} for name, age in ages.items()}
    history.sut("feeds", {"instance": instance, "selected": selected, "switch": False, "feeds": feeds}, at=at)


def _stall_history() -> HistoryBuilder:
    history = HistoryBuilder().run_start()
    _feeds(history, 1.0, "A", {"A": 20.0, "B": 30.0})
    _feeds(history, 2.0, "A", {"A": 900.0, "B": 25.0})  # A stalls: its age grows
    _feeds(history, 2.6, "B", {"A": 1510.0, "B": 10.0})
    _feeds(history, 4.0, None, {"A": 2900.0, "B": 1600.0})
    _feeds(history, 4.5, None, {"A": 3400.0, "B": 2100.0})  # no change of selection: no new step
    _feeds(history, 1.0, "A", {"A": 20.0, "B": 30.0}, instance="oms-dr")
    history.fault("exchange", at=1.5)
    return history


def test_feed_age_per_instance_and_the_selected_feed_per_change_come_from_the_feeds_events() -> None:
    data = build_report_data(_stall_history().ops)

    assert data.feed_names == ("A", "B")
    ages = {series.name: series.values for series in data.feed_age}
    assert ages["oms-primary A"] == (20.0, 900.0, 1510.0, 2900.0, 3400.0)
    assert set(ages) == {"oms-primary A", "oms-primary B", "oms-dr A", "oms-dr B"}
    selected = {series.name: (series.t_s, series.values) for series in data.selected_feed}
    assert selected["oms-primary"] == ((1.0, 2.6, 4.0), (0.0, 1.0, -1.0))


def test_the_plot_renders_ages_selection_and_faults_and_is_absent_without_market_data() -> None:
    figure = market_data_figure(build_report_data(_stall_history().ops))
    assert figure is not None
    svg = io.StringIO()
    figure.savefig(svg, format="svg")
    drawn = svg.getvalue()
    for gid in ("feedage-0", "feedage-3", "selected-0", "selected-1"):
        assert f'id="{gid}' in drawn, gid
    assert "selected feed" in drawn
    assert "market-data" in [plot.key for plot in PLOTS]
    assert market_data_figure(build_report_data(HistoryBuilder().run_start().ops)) is None
