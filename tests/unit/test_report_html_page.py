"""``report.html`` and ``summary.md`` written from a run: self-contained, escaped, every plot there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from gameday.history import Op
from gameday.report.data import ReportData, build_report_data
from gameday.report.html import REPORT_HTML, render_plots, write_html_report
from gameday.report.pages import write_readable_reports
from gameday.report.plots import Plot
from gameday.report.summary import SUMMARY_MD, summary_markdown
from gameday.scenario import MaxBound
from gameday.starvation import LoadAverage, StarvationSummary
from gameday.verdict import ExpectationResult, RunResult, Unit, Verdict
from tests.unit.test_report_html_data import deploy_run, failover_run, graded_rto

HOSTILE = '<script>alert("x")</script> & "quotes"'


def _result(ops: list[Op], *, scenario: str = "failover-primary-crash") -> RunResult:
    failing = ExpectationResult(
        name="fills.lost", bound=MaxBound(max=0), bound_text="max 0", observed=3, observed_text="3",
        unit=Unit.COUNT, verdict=Verdict.FAIL, note=f"3 fills lost {HOSTILE}",
        evidence={"lost": [{"exec_id": "E9", "text": HOSTILE}]})
    starved = StarvationSummary(cores=2, stress=0, interval_s=1.0, harness_loop_lag=None, starved=True,
                                load_average=LoadAverage(cores=2, samples=9, max_1m=4.4, mean_1m=3.0),
                                reasons=("load average 4.4 > 2 x 2 cores",))
    return RunResult(run_id="run-7", scenario=scenario, seed=7, defects=("no-fencing",), verdict=Verdict.FAIL,
                     expectations=(graded_rto(ops), failing), starvation=starved,
                     started_wall="2026-01-01T00:00:00+00:00", ended_wall="2026-01-01T00:00:21+00:00")


def _run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    (run_dir / "stack").mkdir(parents=True)
    (run_dir / "stack" / "oms-dr.log").write_text("started\n")
    (run_dir / "stack" / "oms primary.log").write_text("started\n")
    (run_dir / "history.jsonl").write_text("")
    (run_dir / "results.json").write_text("{}")
    record = {"target": "reference", "argv": ["gameday", "run", "x.yaml"]}
    (run_dir / "run.json").write_text(json.dumps(record))
    (run_dir / "scenario.yaml").write_text(f"name: x\ndescription: '{HOSTILE.replace(chr(39), '')}'\n")
    return run_dir


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    run_dir = _run_dir(tmp_path_factory.mktemp("page"))
    ops = failover_run().ops
    paths = write_readable_reports(_result(ops), ops, run_dir)
    assert paths.report_html == run_dir / REPORT_HTML
    assert paths.summary_md == run_dir / SUMMARY_MD
    assert ReportData.model_validate_json(paths.report_data_json.read_text()) == build_report_data(
        ops, [graded_rto(ops)])
    return paths.report_html.read_text(encoding="utf-8")


def test_the_page_fetches_nothing(page: str) -> None:
    assert re.findall(r"\bsrc\s*=", page) == []
    assert re.findall(r"<link\b|@import|url\((?!#)", page) == []
    assert re.findall(r'href="(?:https?:)?//', page) == []
    assert re.findall(r"<script(?![^>]*application/json)", page) == []


def test_every_plot_is_an_inline_svg(page: str) -> None:
    figures = re.findall(r'<figure id="plot-([a-z]+)"><figcaption>[^<]*</figcaption><svg ', page)
    assert figures == ["timeline", "latency", "rates", "probes", "replication", "looplag"]
    assert "could not be drawn" not in page


def test_every_plot_shades_the_faults_and_the_rto_is_drawn(page: str) -> None:
    for plot in ("timeline", "latency", "rates", "probes", "replication", "looplag"):
        assert f'id="plot-{plot}-fault-F1"' in page, plot  # the kill, an instant
        assert f'id="plot-{plot}-fault-F2"' in page, plot  # the partition, a window
        assert f'id="plot-{plot}-heal-F2"' in page, plot
    assert 'id="plot-probes-interval-rto.failover"' in page
    assert 'id="plot-timeline-span-measured-0"' in page


def test_ids_are_unique_across_the_inlined_svgs(page: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    referenced = set(re.findall(r'(?:href="#|url\(#)([^")]+)', page))
    assert referenced <= set(ids)


def test_scenario_text_notes_and_evidence_are_escaped(page: str) -> None:
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page
    evidence = re.search(r'id="expect-fills.lost">.*?<details><summary>evidence</summary><pre>(.*?)</pre>',
                         page, re.DOTALL)
    assert evidence is not None
    assert "&lt;script&gt;" in evidence.group(1)


def test_identity_verdict_and_machine_on_top(page: str) -> None:
    head = page[:page.index('id="summary"')]
    assert '<header class="verdict fail"><h1>failover-primary-crash: FAIL</h1>' in head
    for fact in ("run-7", "seed 7", "no-fencing", "reference", "The machine was starved",
                 "load average max 4.40, mean 3.00 on 2 cores", "gameday run x.yaml"):
        assert fact in head, fact


def test_links_to_the_service_logs_and_the_raw_files(page: str) -> None:
    links = re.findall(r'<a href="([^"]+)">', page)
    assert links == ["stack/oms%20primary.log", "stack/oms-dr.log", "summary.md", "report-data.json",
                     "results.json", "history.jsonl", "scenario.yaml", "run.json"]


def test_the_data_the_plots_draw_is_embedded(page: str) -> None:
    found = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.DOTALL)
    assert found is not None
    ops = failover_run().ops
    assert json.loads(found.group(1)) == build_report_data(ops, [graded_rto(ops)]).model_dump(mode="json")


def test_a_plot_that_breaks_is_reported_in_its_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: object) -> None:
        raise ValueError("no axes today")

    monkeypatch.setattr("gameday.report.html.PLOTS", (Plot("broken", "Broken", broken),))
    ops = deploy_run().ops

    page = write_html_report(_result(ops, scenario="bg"), ops, tmp_path).read_text()

    assert 'this plot could not be drawn: ValueError: no axes today' in page
    assert [plot.key for plot in render_plots(build_report_data(ops))] == ["broken"]


def test_the_summary_says_what_was_injected_recovered_and_failed() -> None:
    ops = failover_run().ops
    result = _result(ops)

    text = summary_markdown(result, build_report_data(ops, result.expectations))

    assert text.startswith("### failover-primary-crash: FAIL\n")
    for line in ("- t+10.00 s **F1** kill oms-primary",
                 "- t+15.00 s **F2** partition oms-dr->nats, healed t+17.00 s (2.00 s)",
                 "- t+18.00 s **F3** exchange (failed to apply)",
                 "- t+10.25 s oms-primary down (was active)",
                 "- t+12.90 s oms-dr became active (was standby)",
                 "- t+13.00 s **RTO 2.999s** (bound max 10s, pass): trading resumed on oms-dr and held",
                 "- `fills.lost` FAIL: observed 3, expected max 0 — 3 fills lost",
                 "**Traffic:** 100 orders: 85 ok, 14 failed, 1 unknown (not active: 14, timed out: 1); "
                 "40 fills (venue ledger); trade probes: 19 ok on oms-primary, 14 ok on oms-dr, 6 failed",
                 "**Machine:** STARVED (load average 4.4 > 2 x 2 cores)"):
        assert line in text, line


def test_the_summary_of_a_deploy_lists_its_phases() -> None:
    ops = deploy_run().ops
    result = RunResult(run_id="r", scenario="bg", seed=1, verdict=Verdict.PASS, expectations=())

    text = summary_markdown(result, build_report_data(ops))

    assert "- nothing (no fault in the scenario)" in text
    assert "**Failed:** nothing; every expectation passed." in text
    assert ("**Deploy:** t+2.20 s launch → t+2.21 s shadow / verify → t+8.27 s cutover → "
            "t+8.49 s rollback window") in text


def test_a_long_run_draws_one_ok_latency_in_every_few(monkeypatch: pytest.MonkeyPatch) -> None:
    from gameday.report import plots
    from gameday.report.svg import plotting

    monkeypatch.setattr(plots, "MAX_MARKS", 20)
    data = build_report_data(failover_run().ops)
    with plotting():
        figure = plots.latency_figure(data)
    assert figure is not None
    [axes] = figure.axes
    drawn = {collection.get_gid(): np.asarray(collection.get_offsets()).shape[0]
             for collection in axes.collections}
    assert drawn == {"latency-ok": 17, "latency-failed": 14, "latency-unknown": 1}  # 85 ok, 1 in 5
    legend = axes.get_legend()
    assert legend is not None
    assert "ok (85, 1 in 5 drawn)" in [text.get_text() for text in legend.get_texts()]


def test_a_long_command_line_is_folded(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path)
    argv = ["gameday", "matrix", *(f"scenarios/s{n}.yaml" for n in range(30))]
    (run_dir / "run.json").write_text(json.dumps({"argv": argv}))
    ops = deploy_run().ops

    page = write_html_report(_result(ops, scenario="bg"), ops, run_dir).read_text()

    assert "<dt>command</dt><dd><details><summary><code>gameday matrix scenarios/s0.yaml" in page
    assert "scenarios/s29.yaml</code></details>" in page
