"""Work shared among forked processes comes back whole and in order, whatever a worker does."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gameday.report.plot_workers import map_in_workers


def _square_and_pid(number: int) -> list[int]:
    return [number * number, os.getpid()]


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_results_come_back_in_the_items_order(workers: int) -> None:
    numbers = list(range(11))

    results = map_in_workers(numbers, _square_and_pid, workers)

    assert [square for square, _ in results] == [number * number for number in numbers]
    assert len({pid for _, pid in results}) <= workers


def test_a_slow_item_does_not_hold_up_the_items_after_it(tmp_path: Path) -> None:
    """Workers take the next item as they finish one: the slow item finishes only once every other
    item is done, which only another process can do while it waits."""
    others = 5

    def slow_first(number: int) -> list[int]:
        if number == 0:
            deadline = time.monotonic() + 30
            while len(list(tmp_path.iterdir())) < others and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            (tmp_path / str(number)).touch()
        return [number, os.getpid()]

    results = map_in_workers(list(range(others + 1)), slow_first, 2)

    assert [number for number, _ in results] == list(range(others + 1))
    slow_pid = results[0][1]
    assert all(pid != slow_pid for _, pid in results[1:])


def test_a_worker_that_dies_leaves_its_items_to_the_caller() -> None:
    caller = os.getpid()

    def dies_in_a_worker(number: int) -> int:
        if os.getpid() != caller:
            os._exit(3)
        return -number

    assert map_in_workers(list(range(5)), dies_in_a_worker, 2) == [0, -1, -2, -3, -4]


def test_a_worker_whose_results_cannot_be_sent_leaves_its_items_to_the_caller() -> None:
    caller = os.getpid()

    def unsendable_in_a_worker(number: int) -> object:
        return number if os.getpid() == caller else {number}  # a set is not JSON

    assert map_in_workers(list(range(4)), unsendable_in_a_worker, 2) == [0, 1, 2, 3]


def test_no_items_no_workers() -> None:
    assert map_in_workers([], _square_and_pid, 4) == []


def test_plots_drawn_in_two_processes_are_those_drawn_in_one() -> None:
    from gameday.report.data import build_report_data
    from gameday.report.html import render_plots
    from tests.unit.test_report_html_data import failover_run

    data = build_report_data(failover_run().ops)

    in_two = render_plots(data, workers=2)

    assert len(in_two) >= 3
    assert in_two == render_plots(data, workers=1)


def test_the_warmup_leaves_the_plotting_library_loaded() -> None:
    import subprocess
    import sys

    code = ("import sys; from gameday.report.renderer import PlottingWarmup\n"
            "before = 'matplotlib.backends.backend_svg' in sys.modules\n"
            "warmup = PlottingWarmup(); warmup.start(); warmup.join()\n"
            "print(before, 'matplotlib.backends.backend_svg' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          timeout=60)

    assert done.stdout.split() == ["False", "True"]
