"""``report.html`` and ``matrix.html`` in a real headless Chromium (Debian's ``chromium``).

The browser is driven over the DevTools protocol: every console error, uncaught exception and
failed or refused resource is collected; the DOM then says whether every plot rendered (an SVG of
non-zero size with marks in it) and whether any two timeline labels in one lane row overlap as
the browser laid them out. Full-page screenshots are saved in the test's tmp dir.

Chromium is required, not optional: without it this test fails (``apt-get install -y chromium``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gameday.matrix import Matrix, MatrixRow, RunSummary
from gameday.report.data import build_report_data
from gameday.report.html import REPORT_HTML
from gameday.report.matrix_html import write_matrix_html
from gameday.report.pages import write_readable_reports
from gameday.verdict import RunResult, Verdict
from tests.unit.test_report_html_data import deploy_run, failover_run, graded_rto

pytestmark = pytest.mark.integration

CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--remote-debugging-port=0", "--no-first-run", "--window-size=1400,3000")
BUDGET_S = 25.0
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")
_LABEL = re.compile(r"^plot-timeline-label-(?P<lane>.+)-r(?P<row>\d+)-\d+$")
PAGE_FACTS = """(() => {
  const box = (element) => { const r = element.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
  return {
    title: document.title,
    plots: [...document.querySelectorAll('figure')].map((figure) => {
      const svg = figure.querySelector('svg');
      return {id: figure.id, svg: svg ? box(svg) : null,
              marks: svg ? svg.querySelectorAll('path, use').length : 0};
    }),
    labels: [...document.querySelectorAll('g[id^="plot-timeline-label-"]')].map(
      (g) => ({id: g.id, ...box(g)})),
    evidence: document.querySelectorAll('#expectations details').length,
    runLinks: [...document.querySelectorAll('a.run')].map((a) => a.getAttribute('href')),
  };
})()"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: the report's browser test needs it "
                    "(apt-get install -y chromium)")
    return found


class DevTools:
    """A minimal Chrome DevTools protocol client over one websocket (flattened sessions)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            body = message.json()
            if "id" in body and body["id"] in self._pending:
                self._pending.pop(body["id"]).set_result(body)
            else:
                self.events.append(body)
                self._arrived.set()

    async def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        self._pending[ident] = asyncio.get_running_loop().create_future()
        await self._ws.send_json({"id": ident, "method": method, "params": params,
                                  **({"sessionId": session} if session else {})})
        answer = await self._pending[ident]
        if "error" in answer:
            raise AssertionError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def wait_for(self, method: str, session: str) -> dict[str, Any]:
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self._arrived.clear()
            await self._arrived.wait()

    def problems(self, session: str) -> list[str]:
        """Console errors, exceptions and resources that failed or were refused, in one tab."""
        found = []
        for event in self.events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                found.append(f"resource failed: {params.get('errorText')} {params.get('blockedReason', '')}")
            elif method == "Network.responseReceived" and params["response"].get("status", 200) >= 400:
                found.append(f"resource {params['response']['status']}: {params['response'].get('url')}")
        return found

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[DevTools]:
    process = await asyncio.create_subprocess_exec(
        _chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stderr is not None
        url = None
        while url is None:
            line = (await process.stderr.readline()).decode(errors="replace")
            if not line:
                raise AssertionError(f"chromium exited ({await process.wait()}) before DevTools listened")
            found = _LISTENING.search(line)
            url = found.group(1) if found else None
        async with aiohttp.ClientSession() as http, http.ws_connect(url, max_msg_size=0) as ws:
            devtools = DevTools(ws)
            try:
                yield devtools
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(devtools.call("Browser.close"), 5)
                await devtools.close()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _open(devtools: DevTools, page: Path, screenshot: Path) -> tuple[dict[str, Any], list[str]]:
    """Load ``page`` in a new tab; its DOM facts and the problems the browser reported."""
    target = await devtools.call("Target.createTarget", url="about:blank")
    attached = await devtools.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
    session = attached["sessionId"]
    for domain in ("Runtime", "Log", "Network", "Page"):
        await devtools.call(f"{domain}.enable", session)
    await devtools.call("Emulation.setDeviceMetricsOverride", session, width=1400, height=3000,
                        deviceScaleFactor=1, mobile=False)
    await devtools.call("Page.navigate", session, url=page.as_uri())
    await devtools.wait_for("Page.loadEventFired", session)
    facts = await devtools.call("Runtime.evaluate", session, expression=PAGE_FACTS, returnByValue=True)
    metrics = await devtools.call("Page.getLayoutMetrics", session)
    size = metrics["cssContentSize"]
    shot = await devtools.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                               clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                                     "scale": 1})
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    problems = devtools.problems(session)
    await devtools.call("Target.closeTarget", targetId=target["targetId"])
    return facts["result"]["value"], problems


def _write_run(run_dir: Path, ops: list[Any], scenario: str, expectations: tuple[Any, ...]) -> Path:
    run_dir.mkdir(parents=True)
    (run_dir / "stack").mkdir()
    (run_dir / "stack" / "oms-dr.log").write_text("started\n")
    result = RunResult(run_id=run_dir.name, scenario=scenario, seed=7, verdict=Verdict.PASS,
                       expectations=expectations)
    return write_readable_reports(result, ops, run_dir).report_html


def _runs(root: Path) -> tuple[Path, Path, Matrix]:
    ops = failover_run().ops
    failover = _write_run(root / "matrix" / "failover" / "r1", ops, "failover-primary-crash",
                          (graded_rto(ops),))
    deploy = _write_run(root / "matrix" / "deploy" / "r1", deploy_run().ops, "bluegreen-clean-cutover", ())
    rto = build_report_data(ops, [graded_rto(ops)]).intervals[0]

    def summary(report: Path, observed: dict[str, float | int | None]) -> RunSummary:
        return RunSummary(verdict=Verdict.PASS, failing=(), unknown=(), observed=observed,
                          run_dir=str(report.parent), as_expected=True)

    rows = (MatrixRow(scenario="failover-primary-crash", path="f.yaml", defects=("no-promotion",),
                      must_fail=("rto.failover",),
                      correct=(summary(failover, {"rto.failover": rto.end_s - rto.start_s}),), defect=()),
            MatrixRow(scenario="bluegreen-clean-cutover", path="b.yaml", defects=(), must_fail=(),
                      correct=(summary(deploy, {}),), defect=()))
    return failover, deploy, Matrix(generated="2026-01-01T00:00:00+00:00", repeats=1, rows=rows,
                                    scenarios_planned=2)


def _overlapping_labels(labels: list[dict[str, Any]]) -> list[tuple[str, str]]:
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for label in labels:
        found = _LABEL.match(label["id"])
        assert found is not None, label["id"]
        rows.setdefault((found["lane"], found["row"]), []).append(label)
    clashes = []
    for row in rows.values():
        ordered = sorted(row, key=lambda label: label["left"])
        clashes += [(first["id"], second["id"]) for first, second in itertools.pairwise(ordered)
                    if second["left"] < first["right"] - 0.5]
    return clashes


@pytest.mark.timeout(60)
async def test_reports_render_in_chromium_without_errors(tmp_path: Path) -> None:
    failover, deploy, matrix = _runs(tmp_path / "reports")
    matrix_page = write_matrix_html(matrix, tmp_path / "reports")
    async with asyncio.timeout(BUDGET_S), chromium(tmp_path / "profile") as devtools:
        opened = {name: await _open(devtools, page, tmp_path / f"{name}.png")
                  for name, page in (("failover", failover), ("deploy", deploy), ("matrix", matrix_page))}

    for name, (facts, problems) in opened.items():
        assert problems == [], name
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name
        for plot in facts["plots"]:
            assert plot["svg"] is not None, (name, plot["id"])
            assert plot["svg"]["width"] > 600, (name, plot)
            assert plot["svg"]["height"] > 80, (name, plot)
            assert plot["marks"] > 20, (name, plot)

    failover_facts, deploy_facts = opened["failover"][0], opened["deploy"][0]
    assert [plot["id"] for plot in failover_facts["plots"]] == [
        "plot-timeline", "plot-latency", "plot-rates", "plot-probes", "plot-replication", "plot-looplag"]
    assert failover_facts["evidence"] == 1
    for facts in (failover_facts, deploy_facts):
        assert len(facts["labels"]) > 5
        assert all(label["width"] > 0 for label in facts["labels"])
        assert _overlapping_labels(facts["labels"]) == []
    rows = [_LABEL.match(label["id"]) for label in deploy_facts["labels"]]
    deployer_rows = {found["row"] for found in rows if found is not None and found["lane"] == "deployer"}
    assert len(deployer_rows) == 4

    matrix_facts = opened["matrix"][0]
    assert [plot["id"] for plot in matrix_facts["plots"]] == ["plot-rto"]
    assert matrix_facts["runLinks"] == [f"matrix/failover/r1/{REPORT_HTML}",
                                        f"matrix/deploy/r1/{REPORT_HTML}"]
    assert all((tmp_path / "reports" / link).is_file() for link in matrix_facts["runLinks"])
