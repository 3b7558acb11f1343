"""``python -m gameday.proxy --config FILE``: the proxies exist before READY (as Toxiproxy's -config);
an unreadable or refused file is an error, and a non-loopback API host needs --allow-remote."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PROXY = [sys.executable, "-m", "gameday.proxy", "--host", "127.0.0.1", "--port", "0"]


def test_the_configured_proxies_exist_before_ready(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "oms-primary->exchange", "listen": "127.0.0.1:0",
                                   "upstream": "127.0.0.1:9", "enabled": True}]))
    process = subprocess.Popen([*PROXY, "--config", str(config)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.startswith("READY api="), ready
        api = f"http://127.0.0.1:{ready.split('=')[1].strip()}"
        with urllib.request.urlopen(f"{api}/proxies", timeout=5) as answer:
            assert list(json.load(answer)) == ["oms-primary->exchange"]
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.parametrize("content", [None, "not json", json.dumps([{"name": "x", "listen": "10.0.0.1:1",
                                                                      "upstream": "127.0.0.1:9"}])])
def test_a_bad_config_file_stops_the_server(tmp_path: Path, content: str | None) -> None:
    config = tmp_path / "proxies.json"
    if content is not None:
        config.write_text(content)
    result = subprocess.run([*PROXY, "--config", str(config)], capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 1
    assert "READY" not in result.stdout
    assert str(config) in result.stderr


def test_a_non_loopback_api_host_needs_allow_remote() -> None:
    result = subprocess.run([*PROXY[:3], "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr
