"""The command line's answers to bad input: a clear message, exit code 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCENARIOS = Path(__file__).parents[2] / "scenarios"


def _gameday(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from gameday.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=60)


def test_validate_accepts_the_shipped_scenarios() -> None:
    result = _gameday("validate", *map(str, sorted(SCENARIOS.glob("*.yaml"))))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_an_invalid_scenario_names_file_path_and_expectation_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    text = (SCENARIOS / "failover-primary-crash.yaml").read_text()
    assert "{at: 8s, fault: kill" in text
    bad.write_text(text.replace("{at: 8s, fault: kill", "{at: soon, fault: kill"))

    result = _gameday("validate", str(bad))

    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "Traceback" not in output
    assert "bad.yaml" in output
    assert "timeline[0].at" in output
    assert "expected a duration" in output


def test_run_refuses_an_invalid_scenario_before_starting_anything(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nseed: seven\n")

    result = _gameday("run", str(bad), "--reports", str(tmp_path / "reports"))

    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "reports").exists()


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = _gameday("validate", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_an_unknown_defect_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = _gameday("run", str(SCENARIOS / "failover-primary-crash.yaml"), "--defect", "no-such-defect",
                      "--reports", str(tmp_path))
    assert result.returncode == 2
    assert "unknown defect no-such-defect" in result.stdout
    assert "no-fencing" in result.stdout  # the target's defects are listed
    assert not list(tmp_path.iterdir())  # no run was started


def test_a_missing_locustfile_is_refused_before_anything_starts(tmp_path: Path) -> None:
    scenario = tmp_path / "load.yaml"
    text = (SCENARIOS / "failover-under-locust-load.yaml").read_text()
    assert "locustfile: ../loads/oms_http.py" in text
    scenario.write_text(text)  # beside no loads/ directory

    result = _gameday("run", str(scenario), "--load-ui", "--reports", str(tmp_path / "reports"))

    assert result.returncode == 2
    assert "load.locustfile" in result.stdout
    assert "no such file" in result.stdout
    assert not (tmp_path / "reports").exists()


def test_a_failure_inside_task_groups_is_described_by_its_leaves() -> None:
    from gameday.runner import describe_failure

    failure = ExceptionGroup("outer", [ExceptionGroup("inner", [ValueError("oms-dr did not start")]),
                                       TimeoutError("venue")])

    assert describe_failure(failure) == "ValueError: oms-dr did not start; TimeoutError: venue"


def test_an_unset_venue_token_variable_is_named_before_anything_starts(tmp_path: Path) -> None:
    target = tmp_path / "target.yaml"
    target.write_text("name: t\noms:\n  instances: {oms-primary: 'http://127.0.0.1:1'}\n  admin_token: x\n"
                      "venue:\n  admin_url: 'http://127.0.0.1:2'\n"
                      "  admin_token_env: GAMEDAY_TEST_UNSET_TOKEN\n")
    reports = tmp_path / "reports"
    for command in ("run", "matrix"):
        result = _gameday(command, "--target", str(target), str(SCENARIOS / "cron-timezone-deploy.yaml"),
                          "--reports", str(reports))
        assert result.returncode == 2
        said = " ".join(result.stdout.split())
        assert "GAMEDAY_TEST_UNSET_TOKEN (venue.admin_token_env) is not set" in said
        assert not reports.exists()  # nothing was started


def test_a_defect_is_refused_for_a_stack_reached_through_a_target_file(tmp_path: Path) -> None:
    target = tmp_path / "target.yaml"
    target.write_text("name: t\noms:\n  instances: {oms-primary: 'http://127.0.0.1:1'}\n  admin_token: x\n"
                      "venue:\n  admin_url: 'http://127.0.0.1:2'\n")
    reports = tmp_path / "reports"
    result = _gameday("run", "--target", str(target), "--defect", "no-market-hours-guard",
                      str(SCENARIOS / "cron-timezone-deploy.yaml"), "--reports", str(reports))
    assert result.returncode == 2
    assert "--defect: a stack reached through a target file runs as it is" in " ".join(result.stdout.split())
    assert not reports.exists()


def test_a_toxiproxy_off_loopback_is_refused_without_allow_remote(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    scenario = str(SCENARIOS / "failover-primary-crash.yaml")
    for command in ("run", "matrix"):
        result = subprocess.run(
            [sys.executable, "-c", "from gameday.cli import main; main()", command, scenario,
             "--reports", str(reports)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "TOXIPROXY_URL": "http://192.0.2.10:8474"})  # TEST-NET: never dialled
        assert result.returncode == 2, result.stdout + result.stderr
        said = " ".join(result.stdout.split())
        assert "TOXIPROXY_URL http://192.0.2.10:8474 is not on loopback: pass --allow-remote" in said
        assert not reports.exists()  # nothing was started
