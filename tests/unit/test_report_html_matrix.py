"""``matrix.html``: the matrix table with each run linking to its report, and RTOs across repeats."""

from __future__ import annotations

import re
from pathlib import Path

from gameday.matrix import Matrix, MatrixRow, RunSummary, Variant
from gameday.report.matrix_html import MATRIX_HTML, RtoPoint, matrix_page, rto_points, write_matrix_html
from gameday.verdict import Verdict


def _run(run_dir: Path | None, verdict: Verdict = Verdict.PASS, *, rto: float | None = 2.0,
         failing: tuple[str, ...] = (), as_expected: bool = True, measured: bool = True) -> RunSummary:
    observed: dict[str, float | int | None] = {"rto.failover": rto} if measured else {}
    return RunSummary(verdict=verdict, failing=failing, unknown=(), observed=observed,
                      run_dir=None if run_dir is None else str(run_dir), as_expected=as_expected)


def _made(root: Path, name: str, *files: str) -> Path:
    run_dir = root / "matrix" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    for file in files:
        (run_dir / file).write_text("x")
    return run_dir


def _matrix(root: Path) -> Matrix:
    with_report = _made(root, "failover/r1", "report.html", "results.json")
    results_only = _made(root, "failover/r2", "results.json")
    bare = _made(root, "failover/r3")
    never = _made(root, "failover/d1", "report.html")
    failover = MatrixRow(
        scenario="failover-primary-crash", path="scenarios/failover-primary-crash.yaml",
        defects=("no-promotion",), must_fail=("rto.failover",),
        correct=(_run(with_report, rto=2.2), _run(results_only, rto=2.4), _run(bare, rto=2.0)),
        defect=(_run(never, Verdict.FAIL, rto=None, failing=("rto.failover",)),))
    deploy = MatrixRow(
        scenario='<b>bg</b> "cutover"', path="scenarios/bg.yaml", defects=("non-atomic-cutover",),
        must_fail=("orders.client_failed",), correct=(_run(None, measured=False),),
        defect=(_run(None, Verdict.PASS, measured=False, as_expected=False),))
    return Matrix(generated="2026-12-07T07:42:51+00:00", repeats=3, rows=(failover, deploy),
                  scenarios_planned=3)


def test_each_run_links_relatively_to_its_report(tmp_path: Path) -> None:
    page = matrix_page(_matrix(tmp_path), tmp_path)

    links = re.findall(r'<a class="run" href="([^"]+)"', page)
    assert links == ["matrix/failover/r1/report.html", "matrix/failover/r2/results.json",
                     "matrix/failover/r3", "matrix/failover/d1/report.html"]
    assert all((tmp_path / link).exists() for link in links)
    assert page.count('<span class="run"') == 2  # runs without a directory: a badge, no link


def test_the_table_reads_each_row_and_escapes_names(tmp_path: Path) -> None:
    page = matrix_page(_matrix(tmp_path), tmp_path)

    assert "<b>bg</b>" not in page
    assert "&lt;b&gt;bg&lt;/b&gt; &quot;cutover&quot;" in page
    assert page.count('<span class="reads bad">NOT as expected</span>') == 1
    assert page.count('<span class="reads ok">as expected</span>') == 1
    assert '<tr class="not-expected" id="row-&lt;b&gt;bg' in page
    assert "2.20 / 2.40 / 2.00 s" in page
    assert "INCOMPLETE: 2 of 3 scenarios ran" in page


def test_rtos_across_repeats_with_never_recovered(tmp_path: Path) -> None:
    points = rto_points(_matrix(tmp_path))

    assert points == [
        RtoPoint("failover-primary-crash", Variant.CORRECT, 0, 2.2),
        RtoPoint("failover-primary-crash", Variant.CORRECT, 1, 2.4),
        RtoPoint("failover-primary-crash", Variant.CORRECT, 2, 2.0),
        RtoPoint("failover-primary-crash", Variant.DEFECT, 0, None),
    ]
    page = matrix_page(_matrix(tmp_path), tmp_path)
    assert '<figure id="plot-rto">' in page
    assert 'id="plot-rto-rto-correct"' in page
    assert 'id="plot-rto-rto-never-defect"' in page


def test_a_matrix_without_an_rto_says_so(tmp_path: Path) -> None:
    matrix = _matrix(tmp_path)
    matrix = matrix.model_copy(update={"rows": matrix.rows[1:]})

    page = matrix_page(matrix, tmp_path)

    assert "No run measured an RTO" in page
    assert "<svg" not in page


def test_written_beside_the_matrix_and_self_contained(tmp_path: Path) -> None:
    path = write_matrix_html(_matrix(tmp_path), tmp_path)

    page = path.read_text()
    assert path == tmp_path / MATRIX_HTML
    assert re.findall(r"\bsrc\s*=|<link\b|<script|@import|https?://", page.replace(
        "http://www.w3.org/2000/svg", "").replace("http://www.w3.org/1999/xlink", "")) == []
