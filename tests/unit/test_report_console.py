from pathlib import Path

from rich.table import Table

from gameday.report import console_text, expectations_table, summary_line
from gameday.scenario import load_scenario
from gameday.verdict import grade_run
from tests.unit.history_builder import failover_history

SCENARIO = load_scenario(Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml")


def test_the_table_has_a_row_per_expectation() -> None:
    table = expectations_table(grade_run(SCENARIO, failover_history().ops))

    assert isinstance(table, Table)
    assert table.row_count == 7
    assert [column.header for column in table.columns][:4] == ["expectation", "bound", "observed", "verdict"]


def test_the_plain_text_report_shows_bounds_observations_and_verdicts() -> None:
    text = console_text(grade_run(SCENARIO, failover_history(old_primary_keeps_sending=True).ops), width=160)

    writers_row = next(line for line in text.splitlines() if "writers.concurrent_active" in line)
    assert "max 1" in writers_row
    assert "FAIL" in writers_row
    rto_row = next(line for line in text.splitlines() if "rto.failover" in line)
    assert "3s" in rto_row
    assert "PASS" in rto_row
    assert "FAIL failover-primary-crash: 5 passed, 2 failed, 0 unknown" in text
    assert "\x1b[" not in text


def test_the_summary_line_names_defects_and_run() -> None:
    never = summary_line(grade_run(SCENARIO, failover_history(recovered=False).ops)).plain
    two_writers = grade_run(SCENARIO, failover_history(old_primary_keeps_sending=True).ops)
    split_brain = summary_line(two_writers).plain

    assert never == "FAIL failover-primary-crash: 3 passed, 4 failed, 0 unknown (run run-42)"
    assert split_brain == ("FAIL failover-primary-crash: 5 passed, 2 failed, 0 unknown "
                           "[defects: no-fencing] (run run-42)")


def test_colour_marks_the_verdicts() -> None:
    text = console_text(grade_run(SCENARIO, failover_history().ops), color=True)

    assert "\x1b[1;32mPASS" in text


def test_expectation_names_and_verdicts_stay_whole_at_80_columns() -> None:
    text = console_text(grade_run(SCENARIO, failover_history(old_primary_keeps_sending=True).ops), width=80)

    writers_row = next(line for line in text.splitlines() if "writers.concurrent_active" in line)
    assert "FAIL" in writers_row
    assert "positions.mismatch_bps" in text
