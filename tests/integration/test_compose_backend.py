"""The compose backend, for real: the reference stack as a compose project on a Docker engine
(compose/engine.sh), each row read the same as on the embedded backend — the correct stack passes,
its known defect fails for the named reasons — and nothing of the project is left behind.

No engine is a failure here, never a skip: `make test` starts one (compose/engine.sh up)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gameday.history import OpKind, read_history
from gameday.runner import HISTORY_FILE, RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.stack.compose import docker_env
from gameday.verdict import Verdict

ROOT = Path(__file__).parents[2]
ROWS = ["failover-primary-crash", "split-brain-slow-primary", "postgres-primary-loss",
        "bluegreen-clean-cutover", "shallow-health-cutover"]

pytestmark = pytest.mark.integration


def _docker(*argv: str) -> str:
    result = subprocess.run(["docker", *argv], env=docker_env(), capture_output=True, text=True, timeout=60,
                            check=False)
    if result.returncode != 0:
        pytest.fail(f"no Docker engine answers (docker {' '.join(argv)}: {result.stderr.strip()[:300]}); "
                    f"start one with compose/engine.sh up")
    return result.stdout


def _leftovers(project: str) -> list[str]:
    containers = _docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}", "-q").split()
    volumes = _docker("volume", "ls", "--filter", f"label=com.docker.compose.project={project}", "-q").split()
    return containers + volumes


@pytest.mark.parametrize("variant", ["correct", "defect"])
@pytest.mark.parametrize("row", ROWS)
async def test_a_row_reads_the_same_on_the_compose_backend(tmp_path: Path, row: str, variant: str) -> None:
    _docker("info", "--format", "{{.ServerVersion}}")
    path = ROOT / "scenarios" / f"{row}.yaml"
    scenario = load_scenario(path)
    assert scenario.known_defect is not None
    defects = scenario.known_defect.defects if variant == "defect" else ()
    outcome = await run_scenario(scenario, path, RunSettings(reports_root=tmp_path, backend="compose",
                                                             extra_defects=tuple(defects)))
    assert outcome.error is None, outcome.error
    verdicts = {e.name: e.verdict for e in outcome.result.expectations}
    if variant == "correct":
        assert verdicts == dict.fromkeys(verdicts, Verdict.PASS), outcome.result.model_dump_json(indent=1)
    else:
        failed = {name for name, verdict in verdicts.items() if verdict is Verdict.FAIL}
        assert set(scenario.known_defect.fails) <= failed, verdicts
    start = next(op for op in read_history(outcome.run_dir / HISTORY_FILE)
                 if op.kind == OpKind.RUN and op.f == "start")
    assert start.value["backend"] == "compose"
    assert _leftovers(str(start.value["project"])) == []
    assert (outcome.run_dir / "stack" / "compose.log").stat().st_size > 0
    assert list((tmp_path / ".active" / "compose").glob("*.json")) == []
