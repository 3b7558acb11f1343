"""A game day with a ``load:`` section on the embedded stack: locust's seconds are in the history and
graded, the report plots them, and no locust process outlives the run (Ctrl-C and SIGKILL included)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.history import OpKind, read_history
from gameday.runner import HISTORY_FILE, RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.stack.reaper import reap_stale_runs
from gameday.verdict import Verdict
from tests.integration.processes import alive, wait_for

pytestmark = pytest.mark.integration

LOCUSTFILE = Path(__file__).parents[2] / "loads" / "oms_http.py"
SCENARIO = """\
name: load-smoke
description: a few locust users beside a short workload; nothing fails
seed: 4
stack: {{preset: active-passive}}
workload: {{orders_per_second: 10, symbols: [BTC-USD, ETH-USD], duration: {duration}}}
load:
  locustfile: {locustfile}
  users: 5
  spawn_rate: 10
  from: 1s
  until: {until}
expect:
  load.failure_ratio: {{max: 0}}
  load.p99_ms: {{max: 3000}}
  trading.available_at_end: 1
"""


def _scenario(tmp_path: Path, duration: str = "6s", until: str = "5s") -> Path:
    path = tmp_path / "load-smoke.yaml"
    path.write_text(SCENARIO.format(duration=duration, until=until, locustfile=LOCUSTFILE))
    return path


async def test_a_scenario_with_load_records_grades_and_plots_it(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    reports = tmp_path / "reports"

    outcome = await run_scenario(load_scenario(path), path, RunSettings(reports_root=reports))

    ops = read_history(outcome.run_dir / HISTORY_FILE)
    load = [op for op in ops if op.kind == OpKind.LOAD]
    seconds = [op for op in load if op.f == "stats"]
    [exited] = [op for op in load if op.f == "exit"]
    graded = {case.name: case for case in outcome.result.expectations}
    assert outcome.error is None
    assert outcome.result.verdict is Verdict.PASS, [(c.name, c.verdict, c.note) for c in graded.values()]
    assert 3 <= len(seconds) <= 6  # from 1 s to 5 s of the workload
    assert sum(op.value["requests"] for op in seconds) > 20
    assert graded["load.failure_ratio"].observed == 0
    assert graded["load.p99_ms"].observed is not None
    assert exited.value["code"] == 0
    assert not alive(exited.value["pid"])
    assert list((reports / ".active").glob("*.json")) == []
    assert 'id="plot-locust"' in (outcome.run_dir / "report.html").read_text(encoding="utf-8")


def _as_a_background_job() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts one; the harness must still stop


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_no_locust_process_outlives_an_interrupted_or_killed_run(tmp_path: Path, sig: signal.Signals) -> None:
    path = _scenario(tmp_path, duration="60s", until="end")
    reports = tmp_path / "reports"
    harness = subprocess.Popen(
        [sys.executable, "-c", "from gameday.cli import main; main()", "run", str(path), "--reports",
         str(reports)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=_as_a_background_job)
    registry: list[Path] = []

    def load_registered() -> bool:
        registry[:] = [found for found in (reports / ".active").glob("*.load.json")
                       if json.loads(found.read_text() or "{}").get("processes")]
        return bool(registry)

    try:
        wait_for(load_registered, 90, "the load child to be registered")
        [child] = json.loads(registry[0].read_text())["processes"]
        run_dir = Path(json.loads(registry[0].read_text())["run_dir"])
        wait_for(lambda: (run_dir / "load" / "stats.jsonl").exists(), 30, "locust's first second")
        assert alive(child["pid"])
        harness.send_signal(sig)
        output, _ = harness.communicate(timeout=60)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.communicate()

    wait_for(lambda: not alive(child["pid"]), 10, "the load child to die with its run")
    if sig is signal.SIGINT:
        assert harness.returncode == 130, output
        assert "Traceback" not in output
        assert list((reports / ".active").glob("*.json")) == []
    else:
        # the child died with its harness (parent-death signal); its list is the next run's to clear
        reaped = reap_stale_runs(reports)
        assert [entry.run_dir for entry in reaped] == [str(run_dir)] * 2  # the stack's list and the load's
        assert list((reports / ".active").glob("*.json")) == []
