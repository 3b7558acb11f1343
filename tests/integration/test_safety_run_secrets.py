"""A whole game day with a database fault (issue 15), its scratch beside the run under pytest's 0700
directory: it passes, no directory the harness did not make changes mode, and the run's database
password and fault-proxy token are only in the services' 0600 files, never in the history, run.json,
the results or any log."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gameday.runner import RunSettings, run_scenario
from gameday.scenario import load_scenario
from gameday.stack.pg_dirs import BASES, sweep_relocated
from gameday.verdict import Verdict

SCENARIO = Path(__file__).parents[2] / "scenarios" / "postgres-primary-loss.yaml"

pytestmark = pytest.mark.integration


def _modes(paths: list[Path]) -> dict[Path, int]:
    every = {directory for path in paths for directory in (path, *path.parents)}
    return {directory: stat.S_IMODE(directory.stat().st_mode) for directory in sorted(every)}


async def test_a_run_keeps_its_secrets_in_0600_files_and_widens_no_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("GAMEDAY_SCRATCH", "disk")  # Postgres's data under tmp_path: closed to its user
    caplog.set_level(logging.INFO, logger="gameday.stack.pg_dirs")
    watched = [tmp_path, *(base for base in BASES if base.exists())]
    before = _modes(watched)

    outcome = await run_scenario(load_scenario(SCENARIO), SCENARIO, RunSettings(reports_root=tmp_path))

    verdicts = {e.name: e.verdict for e in outcome.result.expectations}
    assert outcome.error is None
    assert verdicts["fills.lost"] is Verdict.PASS, outcome.result.model_dump_json(indent=1)
    assert verdicts["db.write_recovery"] is Verdict.PASS, outcome.result.model_dump_json(indent=1)
    assert _modes(watched) == before
    relocated = [r.getMessage() for r in caplog.records if r.name == "gameday.stack.pg_dirs"]
    assert len(relocated) == (3 if os.geteuid() == 0 else 0), relocated  # the template, primary, replica

    stack = outcome.run_dir / "stack"
    token = (stack / "toxiproxy.token").read_text().strip()
    password = urlsplit(json.loads((stack / "db-failover.json").read_text())["primary_dsn"]).password
    assert password is not None
    assert len(password) >= 24
    assert len(token) >= 24
    holders: dict[str, list[str]] = {"password": [], "token": []}
    for path in sorted(p for p in outcome.run_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        for name, secret in (("password", password), ("token", token)):
            if secret.encode() in content:
                holders[name].append(path.name)
                assert path.parent == stack, path
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert holders["token"] == ["toxiproxy.token"]
    assert sorted(holders["password"]) == ["db-failover.json", "oms-dr.json", "oms-primary.json"]
    for record in ("history.jsonl", "run.json", "results.json", "junit.xml"):
        assert (outcome.run_dir / record).is_file(), record
    assert list(stack.glob("*.log")), "the services' logs were searched too"

    sweep_relocated()  # the data placed outside the run's scratch: gone with the scratch's symlink
    own = [root / f"gameday-postgres-{os.getuid()}" for root in BASES]
    placed = [link.parent for root in own for link in root.glob(f"postgres-{os.getpid()}-*/*/link")]
    assert [where for where in placed if Path((where / "link").read_text()).is_relative_to(tmp_path)] == []
