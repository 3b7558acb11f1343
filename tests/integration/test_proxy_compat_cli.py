"""To the letter, the command line: toxiproxy-server's flags (``-config``, ``-proxy-metrics``,
``-runtime-metrics``, ``-version``, Go's ``-flag=value`` spellings) and ``LOG_LEVEL``, run as a
process the way a CI script written for toxiproxy-server runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SERVER = [sys.executable, "-m", "gameday.proxy"]


@contextmanager
def serving(*flags: str, log_level: str | None = None) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The server started with ``flags`` (and ``-host 127.0.0.1 -port 0``); its API URL."""
    env = {key: value for key, value in os.environ.items() if key != "LOG_LEVEL"}
    if log_level is not None:
        env["LOG_LEVEL"] = log_level
    process = subprocess.Popen([*SERVER, "-host", "127.0.0.1", "-port", "0", *flags], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.startswith("READY api="), (ready, process.stderr.read() if process.stderr else "")
        yield f"http://127.0.0.1:{ready.split('=')[1].strip()}", process
    finally:
        process.terminate()
        process.communicate(timeout=10)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.parametrize("flag", ["-version", "--version", "-version=true", "-version=1"])
def test_version_flag_prints_toxiproxy_servers_line(flag: str) -> None:
    result = subprocess.run([*SERVER, flag], capture_output=True, text=True, timeout=30, check=False)
    assert (result.returncode, result.stdout) == (0, "toxiproxy-server version 2.12.0\n")


def test_go_spelled_flags_config_and_proxy_metrics(tmp_path: Path) -> None:
    config = tmp_path / "toxiproxy.json"
    config.write_text(json.dumps([{"name": "redis", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:6379"}]))
    flags = (f"-config={config}", "-proxy-metrics", "-runtime-metrics=false", "-version=false")
    with serving(*flags) as (url, _):
        status, text = get(f"{url}/proxies")
        assert (status, list(json.loads(text))) == (200, ["redis"])
        status, text = get(f"{url}/metrics")
        assert status == 200
        assert 'proxy="redis"' in text
        assert "process_cpu_seconds_total" not in text


def test_without_a_metrics_flag_there_is_no_metrics_endpoint() -> None:
    with serving("-runtime-metrics=F") as (url, _):
        assert get(f"{url}/metrics") == (404, "404 page not found\n")
    with serving("--runtime-metrics") as (url, _):
        status, text = get(f"{url}/metrics")
        assert status == 200
        assert "process_resident_memory_bytes" in text


def test_a_bad_boolean_is_a_usage_error_as_in_go() -> None:
    result = subprocess.run([*SERVER, "-proxy-metrics=yes"], capture_output=True, text=True, timeout=30,
                            check=False)
    assert result.returncode == 2
    assert 'invalid boolean value "yes" for -proxy-metrics' in result.stderr


@pytest.mark.parametrize(("level", "info_logged"),
                         [("warn", False), ("INFO", True), ("1", True), ("", False), ("-1", True)])
def test_log_level_sets_what_is_logged(level: str, info_logged: bool) -> None:
    with serving(log_level=level) as (url, process):
        body = json.dumps({"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}).encode()
        urllib.request.urlopen(urllib.request.Request(f"{url}/proxies", data=body), timeout=5).close()
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert ("Started proxy p" in stderr) is info_logged, stderr


def test_an_unknown_log_level_is_reported_and_the_server_serves() -> None:
    with serving(log_level="loud") as (url, process):
        assert get(f"{url}/version")[0] == 200
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert 'unknown LOG_LEVEL value: "loud"' in stderr
    assert "Starting Toxiproxy" in stderr  # the default level (info) kept
