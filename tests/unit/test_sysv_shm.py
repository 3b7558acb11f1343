"""Which System V segments a run may release: its own creators', unattached, created after they started."""

from __future__ import annotations

from pathlib import Path

from gameday.stack.sysv_shm import Segment, orphaned, parse_segments, release_orphaned_segments

TABLE = """\
key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime rss swap
3228105 1212416 600 56 24513 24558 0 999 995 999 995 1796626232 1796626240 1796626231 4096 0
2949681 819201 600 56 5014 5024 2 999 995 999 995 1796623268 1796623275 1796623267 4096 0
garbage line
"""


def test_the_table_is_read_by_its_header_and_bad_rows_are_skipped() -> None:
    assert parse_segments(TABLE) == [Segment(1212416, 24513, 0, 1796626231),
                                     Segment(819201, 5014, 2, 1796623267)]
    assert parse_segments("") == []
    assert parse_segments("no such columns\n1 2 3\n") == []


def test_only_an_unattached_segment_of_a_creator_made_after_it_started_is_orphaned() -> None:
    segments = parse_segments(TABLE)
    assert orphaned(segments, {24513: 1796626230.5}) == [segments[0]]
    assert orphaned(segments, {24513: 1796626300.0}) == []  # older than our process: a recycled PID's
    assert orphaned(segments, {5014: 1796623260.0}) == []  # still attached
    assert orphaned(segments, {999: 0.0}) == []  # not a creator of ours


def test_nothing_is_released_without_creators_or_a_table(tmp_path: Path) -> None:
    assert release_orphaned_segments({}) == []
    assert release_orphaned_segments({24513: 0.0}, tmp_path / "missing") == []
