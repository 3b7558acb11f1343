"""A replay fault's ``file``: read beside the scenario at load time, bounded, errors naming the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.scenario import ExchangeFault, load_scenario
from mock_exchange.faults import Replay, parse_fault
from mock_exchange.replay_file import MAX_REPLAY_BYTES, ReplayFileError, read_lines

SCENARIO = """\
name: replay-day
description: a replayed day
seed: 1
stack: {preset: active-passive}
workload: {orders_per_second: 5, symbols: [BTC-USD], duration: 10s}
timeline:
  - {at: 1s, fault: exchange, kind: replay, params: {file: days/day.jsonl, speed: 60}, for: 8s}
expect:
  orders.ghost: 0
"""
TICK = {"t": "2026-03-13T23:59:00Z", "type": "tick", "symbol": "BTC-USD", "px": 60000}


def _write(tmp_path: Path, *lines: str) -> Path:
    (tmp_path / "days").mkdir(exist_ok=True)
    (tmp_path / "days" / "day.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    scenario = tmp_path / "replay.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    return scenario


def test_the_file_beside_the_scenario_becomes_the_lines_the_venue_is_sent(tmp_path: Path) -> None:
    lines = ["# a day", json.dumps(TICK), json.dumps({**TICK, "t": "2026-03-14T00:00:30Z", "px": 60600})]
    scenario = load_scenario(_write(tmp_path, *lines))
    fault = scenario.timeline[0]
    assert isinstance(fault, ExchangeFault)
    assert fault.params == {"speed": 60, "lines": lines, "source": "days/day.jsonl"}
    replay = parse_fault(fault.kind, fault.params)
    assert isinstance(replay, Replay)
    assert replay.model_dump(mode="json") == {"kind": "replay", "session": None, "speed": 60.0,
                                              "source": "days/day.jsonl"}  # the ledger is spared the lines


def test_a_bad_line_is_named_by_the_scenario_line_the_file_and_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps(TICK), json.dumps({**TICK, "type": "halt", "symbol": "btc"}))
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = str(error.value)
    assert "replay.yaml:7: timeline[0].params: the venue would refuse replay: " in message
    assert f"{tmp_path / 'days' / 'day.jsonl'}:2: symbol: String should match pattern" in message


def test_a_stored_run_is_read_back_without_its_replay_file(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps(TICK))
    (tmp_path / "days" / "day.jsonl").unlink()
    with pytest.raises(ScenarioError, match="cannot read the replay file"):
        load_scenario(path)
    fault = load_scenario(path, check_files=False).timeline[0]
    assert isinstance(fault, ExchangeFault)
    assert fault.params == {"file": "days/day.jsonl", "speed": 60}


def test_the_file_is_bounded_and_read_as_utf8(tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"#" * (MAX_REPLAY_BYTES + 1))
    with pytest.raises(ReplayFileError, match="expected at most 262,144"):
        read_lines(big)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(TICK).encode() + b"\n# caf\xe9\n")
    with pytest.raises(ReplayFileError, match=r"latin\.jsonl:2: not UTF-8"):
        read_lines(latin)
    with pytest.raises(ReplayFileError, match="expected a regular file"):
        read_lines(tmp_path)
    many = tmp_path / "many.jsonl"
    many.write_text("\n".join([json.dumps(TICK)] * 2_001), encoding="utf-8")
    with pytest.raises(ReplayFileError, match="2,001 lines; expected at most 2,000"):
        read_lines(many)
