"""The server driven as a real deployment is: by the toxiproxy-python client, and as a process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator

import pytest
import toxiproxy
from toxiproxy.exceptions import NotFound, ProxyExists

from gameday.proxy import ToxiproxyServer
from gameday.proxy.testing import EchoServer, echo_server

pytestmark = pytest.mark.integration


@pytest.fixture
async def served() -> AsyncIterator[tuple[ToxiproxyServer, EchoServer]]:
    async with ToxiproxyServer("127.0.0.1", 0, seed=3) as server, echo_server() as echo:
        yield server, echo


def echo_rtt_ms(listen: str) -> float:
    host, port = listen.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(b"hi")
        assert sock.recv(2) == b"hi"
        return (time.monotonic() - start) * 1000


def drive_with_toxiproxy_python(api_port: int, upstream: str) -> list[str]:
    """The client's own workflow; returns what it observed, step by step."""
    steps: list[str] = []
    client = toxiproxy.Toxiproxy()
    client.update_api_consumer("127.0.0.1", api_port)
    assert client.running()
    proxy = client.create(upstream=upstream, name="tp")
    steps.append("created")
    with pytest.raises(ProxyExists):
        client.create(upstream=upstream, name="tp")
    assert echo_rtt_ms(proxy.listen) < 50
    proxy.add_toxic(type="latency", attributes={"latency": 100})
    assert set(proxy.toxics()) == {"latency_downstream"}
    assert echo_rtt_ms(proxy.listen) >= 100
    steps.append("toxic")
    with proxy.down():
        assert client.proxies()["tp"].enabled is False
        with pytest.raises(ConnectionRefusedError):
            echo_rtt_ms(proxy.listen)
        steps.append("down")
    assert echo_rtt_ms(proxy.listen) >= 100  # back up, toxic kept
    assert client.reset()
    assert proxy.toxics() == {}
    assert echo_rtt_ms(proxy.listen) < 50
    steps.append("reset")
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_downstream")
    assert client.destroy(proxy)
    assert client.proxies() == {}
    steps.append("destroyed")
    return steps


async def test_toxiproxy_python_client_drives_the_server(served: tuple[ToxiproxyServer, EchoServer]) -> None:
    server, echo = served
    steps = await asyncio.to_thread(drive_with_toxiproxy_python, server.port, f"127.0.0.1:{echo.port}")
    assert steps == ["created", "toxic", "down", "reset", "destroyed"]


def test_process_prints_ready_and_exits_zero_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "gameday.proxy", "--host", "127.0.0.1", "--port", "0", "--seed", "9"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "0"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("READY api=")
        port = int(line.removeprefix("READY api="))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=5) as response:
            assert response.status == 200
            assert "version" in json.loads(response.read())
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/proxies",
            data=json.dumps({"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            proxy_port = int(json.loads(response.read())["listen"].rsplit(":", 1)[1])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        for closed_port in (port, proxy_port):
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", closed_port), timeout=2).close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
