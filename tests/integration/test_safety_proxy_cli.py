"""``python -m gameday.proxy --token-file FILE`` (or ``GAMEDAY_PROXY_TOKEN``): the API answers 401
without the token and works with it; ``GET /version`` stays open for readiness checks; ``--config``
populates through the guarded API. Without a token it is open, as real toxiproxy-server is."""

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

PROXY = [sys.executable, "-m", "gameday.proxy", "--host", "127.0.0.1", "--port", "0"]
TOKEN = "per-run-token-0123456789abcdef"


@contextmanager
def proxy_server(args: list[str], env: dict[str, str] | None = None) -> Iterator[str]:
    process = subprocess.Popen([*PROXY, *args], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, **(env or {})})
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.startswith("READY api="), ready
        yield f"http://127.0.0.1:{ready.split('=')[1].strip()}"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def _status(url: str, token: str | None = None) -> int:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.mark.parametrize("way", ["file", "environment"])
def test_with_a_token_the_api_answers_401_without_it(tmp_path: Path, way: str) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "hop", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}]))
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    by_file = way == "file"
    args = ["--token-file", str(token_file)] if by_file else []
    env = {} if by_file else {"GAMEDAY_PROXY_TOKEN": TOKEN}
    with proxy_server([*args, "--config", str(config)], env) as api:
        assert _status(f"{api}/version") == 200
        assert _status(f"{api}/proxies") == 401
        assert _status(f"{api}/proxies", "wrong") == 401
        assert _status(f"{api}/proxies/hop", TOKEN) == 200  # populated from --config through the token


def test_without_a_token_the_api_is_open_as_toxiproxys() -> None:
    with proxy_server([], {"GAMEDAY_PROXY_TOKEN": ""}) as api:
        assert _status(f"{api}/proxies") == 200


def test_an_empty_token_file_stops_the_server(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("")
    result = subprocess.run([*PROXY, "--token-file", str(token_file)], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 1
    assert "READY" not in result.stdout
    assert result.stderr.strip() == f"gameday.proxy: the token file {token_file} is empty"
