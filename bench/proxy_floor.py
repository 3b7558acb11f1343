"""The floor of the added round trip: the proxy beside the least a Python forwarder can do.

``python -m bench proxy-floor``: three paths to the same echo upstream (``proxy.UPSTREAM``),
measured alternating in batches as in :mod:`bench.proxy`: direct; through ``FORWARDER``, a
minimal forwarder process (one thread, epoll, ``recv_into``/``send``, spinning 200 µs after each
event, no API, no toxics, no accounting); and through the gameday proxy. The forwarder's added
round trip is what any Python process in the path costs on this machine; the proxy's excess
over it is the price of everything else it does.
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from bench.machine import machine
from bench.proxy import Api, create_proxy, ready_process, round_trips, upstream_and_proxy

FORWARDER = r"""
import select, socket, sys, time

SPIN = 200e-6
listener = socket.create_server(("127.0.0.1", 0))
print(f"READY port={listener.getsockname()[1]}", flush=True)
epoll = select.epoll()
epoll.register(listener.fileno(), select.EPOLLIN)
socks, peers = {}, {}
buffer = bytearray(65536)
view = memoryview(buffer)
busy_until = 0.0
while True:
    events = epoll.poll(0 if time.perf_counter() < busy_until else -1)
    for fd, _ in events:
        if fd == listener.fileno():
            client, _ = listener.accept()
            server = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            for one, other in ((client, server), (server, client)):
                one.setblocking(False)
                one.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                socks[one.fileno()], peers[one.fileno()] = one, other
                epoll.register(one.fileno(), select.EPOLLIN)
            continue
        size = socks[fd].recv_into(buffer)
        if size == 0:
            for one in (socks.pop(fd), peers.pop(fd)):
                epoll.unregister(one.fileno())
                socks.pop(one.fileno(), None)
                one.close()
            continue
        peers[fd].sendall(view[:size])
    if events:
        busy_until = time.perf_counter() + SPIN
"""


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 1)


async def main(repeat: int) -> list[dict[str, Any]]:
    async with upstream_and_proxy() as (upstream, api_port, _):
        via_proxy = create_proxy(Api(api_port), "floor_echo", upstream["echo"])
        with ready_process([sys.executable, "-c", FORWARDER, str(upstream["echo"])]) as (_, forwarder):
            direct: list[float] = []
            floor: list[float] = []
            proxied: list[float] = []
            for _ in range(repeat):
                d, f = round_trips(upstream["echo"], forwarder["port"])
                d2, p = round_trips(upstream["echo"], via_proxy)
                direct += d + d2
                floor += f
                proxied += p
    direct_p50 = statistics.median(direct)
    return [{
        "figure": "added round trip, 64-byte echo: the gameday proxy beside a minimal Python forwarder (us)",
        "proxy_added_p50": _us(statistics.median(proxied) - direct_p50),
        "forwarder_added_p50": _us(statistics.median(floor) - direct_p50),
        "direct_p50": _us(direct_p50),
        "proxy_over_forwarder_p50": _us(statistics.median(proxied) - statistics.median(floor)),
        "round_trips": len(proxied), "runs": repeat, "goal": "<= 35 us p50 added (proxy)", **machine(),
    }]
