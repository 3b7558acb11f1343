"""The pytest plugin: scenario files named on the command line are tests, one item per expectation
graded from one run; YAML under testpaths is never collected."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gameday.scenario import load_scenario

ROOT = Path(__file__).parents[2]
CRASH = ROOT / "scenarios" / "failover-primary-crash.yaml"

pytestmark = pytest.mark.integration


def _pytest(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=280, check=False)


def test_every_catalog_scenario_is_collected_with_its_expectations() -> None:
    result = _pytest("--collect-only", "-q", "scenarios/")
    assert result.returncode == 0, result.stdout + result.stderr
    collected = {line.strip() for line in result.stdout.splitlines() if "::" in line}
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        scenario = load_scenario(path)
        expected = {f"scenarios/{path.name}::run"} | {f"scenarios/{path.name}::{e.name}"
                                                      for e in scenario.expectations}
        assert expected <= collected, path.name


def test_yaml_under_testpaths_is_not_collected() -> None:
    result = _pytest("--collect-only", "-q", "-m", "not integration")
    assert ".yaml::" not in result.stdout


def test_a_defect_fails_its_named_expectation_as_its_own_test(tmp_path: Path) -> None:
    scenario = load_scenario(CRASH)
    assert scenario.known_defect is not None
    junit = tmp_path / "junit.xml"
    defects = [arg for d in scenario.known_defect.defects for arg in ("--gameday-defect", d)]
    result = _pytest(str(CRASH), *defects, "--gameday-reports", str(tmp_path / "reports"),
                     f"--junitxml={junit}", "-q")
    assert result.returncode == 1, result.stdout + result.stderr
    cases = {case.get("name"): case for case in ET.parse(junit).getroot().iter("testcase")}
    failed = {name for name, case in cases.items() if case.find("failure") is not None}
    assert set(scenario.known_defect.fails) <= failed, result.stdout
    assert cases["run"].find("failure") is None  # the run itself completed
    run_dirs = {prop.get("value") for case in cases.values() for prop in case.iter("property")
                if prop.get("name") == "gameday_run_dir"}
    assert len(run_dirs) == 1
    assert (Path(str(next(iter(run_dirs)))) / "results.json").is_file()
