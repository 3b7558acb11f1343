"""Lane labels never collide: the layout data (rows and boxes in points) checked without drawing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday.report.data import Lane, LaneItem, LaneKind, ReportData, build_report_data
from gameday.report.layout import MAX_ROWS, Scale, approximate_width, layout_lane, overlaps
from gameday.report.plot_lanes import LANE_ROW_PT, timeline_layout
from gameday.report.plot_style import text_width
from gameday.report.svg import FONT_PT
from tests.unit.test_report_html_data import deploy_run, failover_run, graded_rto

WIDTH = approximate_width(FONT_PT)
SCALE = Scale(0.0, 20.0, 754.0)


def _runs() -> list[ReportData]:
    failover = failover_run().ops
    return [build_report_data(failover, [graded_rto(failover)]), build_report_data(deploy_run().ops)]


@pytest.mark.parametrize("data", _runs(), ids=["failover", "deploy"])
def test_no_two_labels_in_a_row_of_a_lane_overlap(data: ReportData) -> None:
    layout = timeline_layout(data, WIDTH)

    for band in layout.bands:
        assert overlaps(band.layout.placed) == [], band.lane.key
        assert sorted(placed.index for placed in band.layout.placed) == list(range(len(band.lane.items)))


def test_the_deployers_burst_of_actions_is_stacked_in_rows() -> None:
    layout = timeline_layout(build_report_data(deploy_run().ops), WIDTH)
    deployer = layout.band("deployer")
    phases = layout.band("deploy")
    assert deployer is not None
    assert phases is not None

    assert deployer.layout.rows == 4  # five actions in 0.24 s; the first, at 2.2 s, shares a row
    assert deployer.layout.hidden == 0
    assert phases.layout.rows == 2  # "launch" (5 ms) and "shadow / verify" start together
    assert deployer.height_pt == 4 * LANE_ROW_PT + 6


def test_the_real_font_measures_keep_the_deploy_labels_apart() -> None:
    layout = timeline_layout(build_report_data(deploy_run().ops), text_width())

    for band in layout.bands:
        assert overlaps(band.layout.placed) == [], band.lane.key


def test_bands_stack_from_the_top_without_gaps() -> None:
    layout = timeline_layout(_runs()[0], WIDTH)

    tops = [band.top_pt for band in layout.bands]
    assert tops[0] == 0.0
    assert all(band.top_pt + band.height_pt == following for band, following in zip(layout.bands, tops[1:],
                                                                                   strict=False))
    assert layout.height_pt == sum(band.height_pt for band in layout.bands)


def _events(*items: tuple[str, float, float | None]) -> Lane:
    return Lane(key="k", title="k", kind=LaneKind.EVENTS,
                items=tuple(LaneItem(label=label, start_s=start, end_s=end) for label, start, end in items))


def test_a_label_at_the_right_edge_goes_left_of_its_mark() -> None:
    layout = layout_lane(_events(("rollback-failed alert", 19.9, None)), SCALE, WIDTH)

    [placed] = layout.placed
    assert placed.show_label
    assert placed.label_x_pt + WIDTH("rollback-failed alert") <= SCALE.pt(19.9)
    assert 0 <= placed.x0_pt < placed.x1_pt <= SCALE.width_pt + 4


def test_past_the_row_limit_marks_stay_and_labels_are_counted_hidden() -> None:
    lane = _events(*((f"event {n}", 5.0 + n * 0.001, None) for n in range(MAX_ROWS + 3)))

    layout = layout_lane(lane, SCALE, WIDTH)

    assert layout.rows == MAX_ROWS + 1
    assert layout.hidden == 3
    assert {placed.row for placed in layout.placed if not placed.show_label} == {MAX_ROWS}
    assert overlaps(layout.placed) == []


def test_a_state_shows_its_label_only_when_it_fits_inside() -> None:
    lane = Lane(key="role:a", title="a", kind=LaneKind.STATES, items=(
        LaneItem(label="standby", start_s=0.0, end_s=10.0),
        LaneItem(label="active", start_s=10.0, end_s=10.1)))

    layout = layout_lane(lane, SCALE, WIDTH)

    assert [placed.show_label for placed in layout.placed] == [True, False]
    assert layout.rows == 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=30), st.floats(0, 20), st.one_of(st.none(),
                                                                                      st.floats(0, 5))),
                max_size=40))
def test_any_events_are_packed_without_overlap(raw: list[tuple[str, float, float | None]]) -> None:
    lane = _events(*((label, start, None if length is None else start + length)
                     for label, start, length in raw))

    layout = layout_lane(lane, SCALE, WIDTH)

    assert overlaps(layout.placed) == []
    assert sorted(placed.index for placed in layout.placed) == list(range(len(raw)))
    assert all(placed.row < MAX_ROWS for placed in layout.placed if placed.show_label)
    assert layout.rows <= MAX_ROWS + 1


def test_overlaps_finds_labelled_boxes_that_collide_in_one_row() -> None:
    from gameday.report.layout import Placed

    boxes = [Placed(0, 0, 0.0, 50.0, 1.0, True), Placed(1, 0, 40.0, 80.0, 41.0, True),
             Placed(2, 1, 40.0, 80.0, 41.0, True), Placed(3, 0, 45.0, 46.0, 0.0, False)]

    assert [(a.index, b.index) for a, b in overlaps(boxes)] == [(0, 1)]
