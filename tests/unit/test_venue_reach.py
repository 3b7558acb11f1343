"""The venue listens on loopback unless told otherwise (issue 15, blast radius): a host beyond it is
refused without --allow-remote, and served with a warning with it."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mock_exchange.cli import BadInputError, _check_reach, add_arguments, exchange_config, is_loopback_host
from mock_exchange.config import ExchangeConfig


def _config(tmp_path: Path, *flags: str) -> tuple[argparse.Namespace, ExchangeConfig]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--client-comp-id", "OMS-A", "--ledger", str(tmp_path / "l.jsonl"), *flags])
    return args, exchange_config(args, {})


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.9.8.7", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False), ("10.0.0.1", False),
    ("example.com", False), ("", False),
])
def test_loopback_is_judged_by_spelling(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_a_host_beyond_loopback_needs_allow_remote(tmp_path: Path) -> None:
    args, config = _config(tmp_path, "--host", "0.0.0.0")
    with pytest.raises(BadInputError, match=r"venue venue would listen on 0\.0\.0\.0, beyond loopback: "
                                            r"pass --allow-remote"):
        _check_reach(config, allow_remote=args.allow_remote)


def test_allowed_it_is_served_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args, config = _config(tmp_path, "--host", "0.0.0.0", "--allow-remote")
    _check_reach(config, allow_remote=args.allow_remote)
    assert "warning: venue venue listens on 0.0.0.0: reachable beyond this host" in capsys.readouterr().err


def test_loopback_needs_no_flag_and_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args, config = _config(tmp_path)
    _check_reach(config, allow_remote=args.allow_remote)
    assert capsys.readouterr().err == ""


def test_a_config_file_host_beyond_loopback_exits_2_before_binding(tmp_path: Path) -> None:
    config = tmp_path / "venue.json"
    config.write_text(json.dumps({"host": "0.0.0.0", "fix_port": 0, "admin_port": 0,
                                  "sessions": [{"sender_comp_id": "OMS-A"}],
                                  "ledger_path": str(tmp_path / "ledger.jsonl")}))
    result = subprocess.run([sys.executable, "-m", "mock_exchange", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "beyond loopback: pass --allow-remote" in result.stderr
    assert "READY" not in result.stdout
    assert not (tmp_path / "ledger.jsonl").exists()
