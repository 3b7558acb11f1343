import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gameday.matrix import MATRIX_FILE, RunRequest, Variant, run_matrix, write_matrix
from gameday.report.matrix_table import matrix_markdown, matrix_table
from gameday.scenario import Scenario, load_scenario
from gameday.verdict import RunResult, grade_run
from tests.unit.history_builder import failover_history
from trading_stack.config import Defect

SCENARIOS = Path(__file__).parents[2] / "scenarios"
CRASH = SCENARIOS / "failover-primary-crash.yaml"


def _graded(scenario: Scenario, *, recovered: bool, second_writer: bool = False) -> RunResult:
    history = failover_history(recovered=recovered, old_primary_keeps_sending=second_writer)
    return grade_run(scenario, history.ops)


RunOutcome = tuple[RunResult, str | None, str | None]


def _runner(outcome: Callable[[RunRequest], RunOutcome]) -> Callable[[RunRequest], object]:
    requests: list[RunRequest] = []

    async def run_one(request: RunRequest) -> RunOutcome:
        requests.append(request)
        return outcome(request)

    run_one.requests = requests  # type: ignore[attr-defined]
    return run_one


async def test_correct_passes_and_defect_fails_for_the_named_reason_reads_as_expected() -> None:
    scenario = load_scenario(CRASH)
    run_one = _runner(lambda r: (_graded(scenario, recovered=r.variant is Variant.CORRECT), "dir", None))

    matrix = await run_matrix([(CRASH, scenario)], run_one, repeats=3)  # type: ignore[arg-type]

    (row,) = matrix.rows
    assert row.as_expected
    assert matrix.as_expected
    assert len(row.correct) == len(row.defect) == 3
    # a dead stack fails what needs an active instance too, not only the RTO
    assert all(run.failing == ("rto.failover", "positions.mismatch_bps", "orders.ghost",
                               "trading.available_at_end") for run in row.defect)
    requests = run_one.requests  # type: ignore[attr-defined]
    assert [r.defects for r in requests if r.variant is Variant.DEFECT] == [(Defect.NO_PROMOTION,)] * 3
    assert all(r.defects == () for r in requests if r.variant is Variant.CORRECT)


async def test_a_defect_that_fails_for_another_reason_is_not_as_expected() -> None:
    scenario = load_scenario(CRASH)

    def outcome(request: RunRequest) -> RunOutcome:
        if request.variant is Variant.CORRECT:
            return _graded(scenario, recovered=True), "dir", None
        return _graded(scenario, recovered=True, second_writer=True), "dir", None

    matrix = await run_matrix([(CRASH, scenario)], _runner(outcome), repeats=1)  # type: ignore[arg-type]

    (row,) = matrix.rows
    assert row.defect[0].failing == ("writers.concurrent_active", "orders.sent_without_lease")
    assert not row.defect[0].as_expected
    assert not matrix.as_expected


async def test_one_unstable_repeat_spoils_the_row() -> None:
    scenario = load_scenario(CRASH)
    calls = iter(range(100))

    def outcome(request: RunRequest) -> RunOutcome:
        n = next(calls)
        if request.variant is Variant.CORRECT:
            return _graded(scenario, recovered=n != 2), "dir", None  # the second correct run fails
        return _graded(scenario, recovered=False), "dir", None

    matrix = await run_matrix([(CRASH, scenario)], _runner(outcome), repeats=2)  # type: ignore[arg-type]

    assert [run.as_expected for run in matrix.rows[0].correct] == [True, False]
    assert not matrix.as_expected


async def test_an_aborted_correct_run_is_not_a_pass() -> None:
    scenario = load_scenario(CRASH)

    def outcome(request: RunRequest) -> RunOutcome:
        result = _graded(scenario, recovered=request.variant is Variant.CORRECT)
        return result, "dir", "the stack did not start"

    matrix = await run_matrix([(CRASH, scenario)], _runner(outcome), repeats=1)  # type: ignore[arg-type]

    assert not matrix.rows[0].correct[0].as_expected
    assert not matrix.rows[0].defect[0].as_expected


async def test_a_scenario_without_a_known_defect_cannot_read_as_expected() -> None:
    scenario = load_scenario(CRASH).model_copy(update={"known_defect": None})
    run_one = _runner(lambda r: (_graded(scenario, recovered=True), "dir", None))

    matrix = await run_matrix([(CRASH, scenario)], run_one, repeats=1)  # type: ignore[arg-type]

    assert matrix.rows[0].defect == ()
    assert not matrix.as_expected


async def test_matrix_json_and_tables(tmp_path: Path) -> None:
    scenario = load_scenario(CRASH)
    run_one = _runner(lambda r: (_graded(scenario, recovered=r.variant is Variant.CORRECT), "dir", None))
    matrix = await run_matrix([(CRASH, scenario)], run_one, repeats=1)  # type: ignore[arg-type]

    path = write_matrix(matrix, tmp_path)

    body = json.loads(path.read_text())
    assert path.name == MATRIX_FILE
    assert body["as_expected"] is True
    assert body["complete"] is True
    assert body["rows"][0]["scenario"] == "failover-primary-crash"
    assert body["rows"][0]["defect"][0]["failing"] == [
        "rto.failover", "positions.mismatch_bps", "orders.ghost", "trading.available_at_end"]
    assert body["rows"][0]["as_expected"] is True
    markdown = matrix_markdown(matrix)
    expected_row = ("| failover-primary-crash | pass x1 | 3.0 s | `no-promotion` | fail (rto.failover, "
                    "positions.mismatch_bps, orders.ghost, trading.available_at_end) x1 | as expected |")
    assert expected_row in markdown
    assert matrix_table(matrix).row_count == 1


def test_every_shipped_scenario_names_a_known_defect_that_fails_a_declared_expectation() -> None:
    for path in sorted(SCENARIOS.glob("*.yaml")):
        scenario = load_scenario(path)
        assert scenario.known_defect is not None, path
        assert set(scenario.known_defect.fails) <= set(scenario.expect), path


@pytest.mark.parametrize("fails", [["orders.ghost"], ["rto.failover", "orders.ghost"]])
def test_known_defect_must_fail_a_declared_expectation(tmp_path: Path, fails: list[str]) -> None:
    from gameday.errors import ScenarioError

    text = CRASH.read_text().replace("fails: [rto.failover]", f"fails: [{', '.join(fails)}]")
    text = text.replace("  orders.ghost: 0\n", "")
    path = tmp_path / "s.yaml"
    path.write_text(text)

    with pytest.raises(ScenarioError, match=r"orders\.ghost"):
        load_scenario(path)


async def test_the_console_table_keeps_scenario_names_whole_on_a_narrow_terminal() -> None:
    import io

    from rich.console import Console

    scenario = load_scenario(CRASH)
    run_one = _runner(lambda r: (_graded(scenario, recovered=r.variant is Variant.CORRECT), "dir", None))
    matrix = await run_matrix([(CRASH, scenario)], run_one, repeats=1)  # type: ignore[arg-type]
    buffer = io.StringIO()

    Console(file=buffer, width=80).print(matrix_table(matrix, 80))

    shown = buffer.getvalue()
    assert "failover-primary-crash" in shown
    assert "as expected" in shown
    assert "no-promotion: fail (rto.failover," in shown


def _starved(result: RunResult) -> RunResult:
    """The same graded run, as if its history had said the harness was starved."""
    from gameday.starvation import LoopLag, StarvationSummary

    starvation = StarvationSummary(cores=2, stress=2, interval_s=0.5,
                                   harness_loop_lag=LoopLag(samples=10, p50_ms=90, p99_ms=400, max_ms=900),
                                   load_average=None, starved=True,
                                   reasons=("harness loop lag p99 400 ms > 100 ms",))
    return result.model_copy(update={"starvation": starvation})


async def test_the_matrix_records_its_stress_level_load_average_and_starved_runs(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from gameday.report.matrix_junit import matrix_junit_xml
    from gameday.starvation import LoadAverage

    scenario = load_scenario(CRASH)

    def plain(request: RunRequest) -> RunOutcome:
        return _graded(scenario, recovered=request.variant is Variant.CORRECT), "dir", None

    def outcome(request: RunRequest) -> RunOutcome:
        result, run_dir, error = plain(request)
        return (_starved(result) if request.variant is Variant.DEFECT else result), run_dir, error

    load = LoadAverage(cores=2, samples=40, max_1m=4.25, mean_1m=3.5)
    loads_asked: list[int] = []

    def load_so_far() -> LoadAverage:
        loads_asked.append(1)
        return load

    matrix = await run_matrix([(CRASH, scenario)], _runner(outcome), repeats=1,  # type: ignore[arg-type]
                              stress=2, load=load_so_far)

    assert (matrix.stress, matrix.load_average, matrix.starved_runs) == (2, load, 1)
    assert len(loads_asked) == 2  # the row's partial matrix and the final one
    unstarved = await run_matrix([(CRASH, scenario)], _runner(plain), repeats=1)  # type: ignore[arg-type]
    # starvation informs; it never changes how a run reads
    assert [run.as_expected for run in (*matrix.rows[0].correct, *matrix.rows[0].defect)] == \
        [run.as_expected for run in (*unstarved.rows[0].correct, *unstarved.rows[0].defect)]
    body = json.loads(write_matrix(matrix, tmp_path).read_text())
    assert body["stress"] == 2
    assert body["load_average"] == {"cores": 2, "samples": 40, "max_1m": 4.25, "mean_1m": 3.5}
    assert body["starved_runs"] == 1
    assert body["rows"][0]["defect"][0]["starvation"]["harness_loop_lag"]["p99_ms"] == 400
    assert body["rows"][0]["correct"][0]["starvation"] is None
    markdown = matrix_markdown(matrix)
    cells = [cell.strip() for cell in markdown.splitlines()[2].split("|")]
    assert "[starved]" not in cells[2]  # the correct stack's runs
    assert cells[5].endswith("[starved] x1")  # the defective stack's
    assert "stress: 2 CPU burner(s); load average max 4.25, mean 3.50 on 2 cores; 1 of 2 runs starved." \
        in markdown
    assert "under stress: 2 CPU burner(s)" in str(matrix_table(matrix).title)
    suite = ET.fromstring(matrix_junit_xml(matrix)).find("testsuite")
    assert suite is not None
    properties = {p.attrib["name"]: p.attrib["value"] for p in suite.iter("property")}
    assert (properties["stress"], properties["load_average_max"], properties["load_average_mean"],
            properties["cores"]) == ("2", "4.25", "3.5", "2")
    defect_out = [case.findtext("system-out") or "" for case in suite.iter("testcase")][1]
    assert "starved: harness loop lag p99 400 ms > 100 ms" in defect_out


async def test_an_unstressed_matrix_says_so_and_keeps_its_markdown_as_before() -> None:
    scenario = load_scenario(CRASH)
    run_one = _runner(lambda r: (_graded(scenario, recovered=r.variant is Variant.CORRECT), "dir", None))

    matrix = await run_matrix([(CRASH, scenario)], run_one, repeats=1)  # type: ignore[arg-type]

    assert (matrix.stress, matrix.load_average, matrix.starved_runs) == (0, None, 0)
    assert "stress" not in matrix_markdown(matrix)
    assert "[starved]" not in matrix_markdown(matrix)


async def test_a_target_files_matrix_runs_the_correct_variant_only_and_says_so() -> None:
    scenario = load_scenario(CRASH)
    run_one = _runner(lambda r: (_graded(scenario, recovered=True), "dir", None))
    lines: list[str] = []

    matrix = await run_matrix([(CRASH, scenario)], run_one, repeats=2,  # type: ignore[arg-type]
                              with_defects=False, progress=lines.append)

    (row,) = matrix.rows
    assert [r.variant for r in run_one.requests] == [Variant.CORRECT] * 2  # type: ignore[attr-defined]
    assert row.defect == ()
    assert row.defect_not_run
    assert row.as_expected
    assert matrix.as_expected
    assert lines[0] == ("plan: 1 row(s) x 1 variant (correct: a target file's stack runs as it is) x 2 "
                        "repeat(s) = 2 run(s)")
    assert "not run (a target file's stack)" in matrix_markdown(matrix)


async def test_a_target_files_failing_stack_reads_not_as_expected() -> None:
    scenario = load_scenario(CRASH)
    run_one = _runner(lambda r: (_graded(scenario, recovered=False), "dir", None))

    matrix = await run_matrix([(CRASH, scenario)], run_one, with_defects=False)  # type: ignore[arg-type]

    assert not matrix.rows[0].as_expected
