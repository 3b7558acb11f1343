"""The API answers reads from its own thread, even while the proxy loop is busy."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request

from gameday.proxy import ToxiproxyServer

BUSY_SECONDS = 1.0


def get_json(url: str, answered: list[tuple[float, object]]) -> None:
    with urllib.request.urlopen(url, timeout=5) as response:
        answered.append((time.monotonic(), json.loads(response.read())))


async def test_reads_are_answered_while_the_proxy_loop_is_busy() -> None:
    async with ToxiproxyServer("127.0.0.1", 0, seed=4) as server:
        body = json.dumps({"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:1"}).encode()
        request = urllib.request.Request(server.url + "/proxies", data=body, method="POST")
        created = await asyncio.to_thread(urllib.request.urlopen, request, timeout=5)
        created.close()
        answered: list[tuple[float, object]] = []
        reader = threading.Thread(target=get_json, args=(server.url + "/proxies/p", answered))
        reader.start()
        reader.join(BUSY_SECONDS)  # blocks the proxy loop, as a flood of data would
        loop_blocked_until = time.monotonic()
    assert len(answered) == 1
    answered_at, proxy = answered[0]
    assert answered_at < loop_blocked_until
    assert isinstance(proxy, dict)
    assert proxy["name"] == "p"
