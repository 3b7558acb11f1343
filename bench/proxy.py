"""The Toxiproxy-compatible proxy (issue 6), measured side by side with a direct connection.

Processes (the machine has 2 cores; they share them, nothing is pinned):

- the proxy: ``python -m gameday.proxy --host 127.0.0.1 --port 0 --seed 1``, its own process;
- the upstreams: one more process (``UPSTREAM`` in :mod:`bench.proxy_rig`, asyncio) serving an
  echo port and a sink port, so the proxy and the upstream never share a loop;
- the clients: this process. Round trips and throughput use blocking sockets in a worker thread
  (one connection at a time, so at most the client, the proxy and the upstream are busy: three
  processes on two cores); the latency-toxic and 1,000-connection figures use this event loop;
- while the 1,000 connections run, the API is polled by one more process (``POLLER`` in
  :mod:`bench.proxy_clients`, blocking ``http.client``; the calls of ``PROBES`` each time), so the
  load generator does not delay the poller: four busy processes then.

Figures:

1. added round trip, 64-byte echo, no toxics: p50/p99 direct and through the proxy; and the
   same on a long-lived connection *healed*: a latency toxic added, used and removed first;
2. throughput through one connection, no toxics: ``THROUGHPUT_BYTES`` per run to the sink, and
   the proxy process's CPU time per GiB forwarded (steadier than GiB/s on a shared machine);
3. latency toxic 100 ms: error of the observed delay against 100 ms + the toxic-free round trip
   of the same client (median);
4. 1,000 concurrent connections with a 100 ms latency toxic: every byte back and equal, API
   round trips while loaded: a read, a change of another proxy (a toxic added, then removed: each
   a data-plane operation) and a change of the loaded proxy (its toxic updated on every link);
5. adding then removing a toxic while a client does not read its side (its socket buffers full):
   API round trips of the POST and the DELETE; then the client reads the backlog, which must be
   every byte it wrote, in order.

Every loop is bounded in count and in time; loopback only; every process stopped in ``finally``.

A/B: ``BENCH_PROXY_TREE=/tmp/before`` runs the proxy process from that tree (a directory holding
a ``gameday`` package: a copy of this checkout's with the files under test as they were) instead
of this checkout; run the bench with and without it, alternating, in one sitting.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from bench.machine import machine
from bench.proxy_clients import (
    CONCURRENT,
    CONCURRENT_ROUNDS,
    LATENCY_MS,
    LATENCY_TOXIC,
    ROUND_BYTES,
    THROUGHPUT_BYTES,
    api_poller,
    echo_client,
    healer,
    precision,
    round_trips,
    throughput,
    toggle_while_stalled,
)
from bench.proxy_rig import RUN_TIMEOUT, Api, cpu_seconds, create_proxy, upstream_and_proxy


# -- figures -----------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _us(seconds: float) -> float:
    return round(seconds * 1e6, 1)


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 3)


async def main(repeat: int) -> list[dict[str, Any]]:
    host = machine()
    async with upstream_and_proxy() as (upstream, api_port, proxy_process):
        api = Api(api_port)
        try:
            echo_via = create_proxy(api, "bench_echo", upstream["echo"])
            sink_via = create_proxy(api, "bench_sink", upstream["sink"])
            load_via = create_proxy(api, "bench_load", upstream["echo"])

            # 1. round trips, direct and proxied alternating in batches
            direct_rt: list[float] = []
            proxy_rt: list[float] = []
            run_added: list[float] = []
            for _ in range(repeat):
                d, p = await asyncio.to_thread(round_trips, upstream["echo"], echo_via)
                direct_rt += d
                proxy_rt += p
                run_added.append(statistics.median(p) - statistics.median(d))
            healed_direct: list[float] = []
            healed_proxy: list[float] = []
            for _ in range(repeat):
                heal = healer(api, "bench_echo")
                d, p = await asyncio.to_thread(round_trips, upstream["echo"], echo_via, heal)
                healed_direct += d
                healed_proxy += p

            # 2. throughput, direct and proxied alternating per run
            direct_bps: list[float] = []
            proxy_bps: list[float] = []
            cpu_per_gib: list[float] = []
            for _ in range(repeat):
                direct_bps.append(await asyncio.to_thread(throughput, upstream["sink"]))
                cpu_before = cpu_seconds(proxy_process)
                proxy_bps.append(await asyncio.to_thread(throughput, sink_via))
                cpu_per_gib.append((cpu_seconds(proxy_process) - cpu_before) / (THROUGHPUT_BYTES / 1024**3))

            # 3. latency toxic precision (downstream, 100 ms), against the same client's round trip
            # without the toxic
            baseline = statistics.median(await precision(echo_via))
            api.call("POST", "/proxies/bench_echo/toxics", LATENCY_TOXIC)
            errors: list[float] = []
            for _ in range(repeat):
                for rtt in await precision(echo_via):
                    errors.append(rtt - LATENCY_MS / 1000 - baseline)
            api.call("DELETE", "/proxies/bench_echo/toxics/lat")

            # 4. 1,000 connections through one proxy with a latency toxic, API polled meanwhile
            api.call("POST", "/proxies/bench_load/toxics", LATENCY_TOXIC)
            idle_api = [api.call("GET", "/proxies/bench_load")[2] for _ in range(50)]
            loaded_api: dict[str, list[float]] = {}
            lost = 0
            load_seconds: list[float] = []
            for _ in range(repeat):
                with api_poller(api_port, loaded_api):
                    started = time.perf_counter()
                    results = await asyncio.wait_for(
                        asyncio.gather(*(echo_client(load_via, i) for i in range(CONCURRENT))), RUN_TIMEOUT)
                    load_seconds.append(time.perf_counter() - started)
                lost += sum(results)
            api.call("DELETE", "/proxies/bench_load/toxics/lat")

            # 5. add/remove a toxic while a client does not read its side
            add_s: list[float] = []
            remove_s: list[float] = []
            intact: list[bool] = []
            for _ in range(repeat):
                a, r, whole = await asyncio.to_thread(toggle_while_stalled, api, echo_via)
                add_s.append(a)
                remove_s.append(r)
                intact.append(whole)
        finally:
            api.close()

    direct_p50, proxy_p50 = statistics.median(direct_rt), statistics.median(proxy_rt)
    gib = 1024**3
    direct_tp, proxy_tp = statistics.median(direct_bps), statistics.median(proxy_bps)
    abs_errors = [abs(e) for e in errors]
    return [
        {"figure": "added round trip, 64-byte echo, no toxics (us)", "p50": _us(proxy_p50 - direct_p50),
         "p99": _us(_pct(proxy_rt, 0.99) - _pct(direct_rt, 0.99)),
         "direct": {"p50": _us(direct_p50), "p99": _us(_pct(direct_rt, 0.99))},
         "proxy": {"p50": _us(proxy_p50), "p99": _us(_pct(proxy_rt, 0.99))},
         "added_p50_per_run": [_us(x) for x in run_added], "added": _us(proxy_p50 - direct_p50),
         "ratio": round(proxy_p50 / direct_p50, 2), "round_trips": len(proxy_rt), "runs": repeat,
         "goal": "<= 35 us p50 added", **host},
        {"figure": "added round trip on a healed connection (toxic added, used, removed) (us)",
         "p50": _us(statistics.median(healed_proxy) - statistics.median(healed_direct)),
         "direct": {"p50": _us(statistics.median(healed_direct))},
         "proxy": {"p50": _us(statistics.median(healed_proxy)), "p99": _us(_pct(healed_proxy, 0.99))},
         "ratio": round(statistics.median(healed_proxy) / statistics.median(healed_direct), 2),
         "round_trips": len(healed_proxy), "runs": repeat, "goal": "as a fresh connection", **host},
        {"figure": "throughput, one connection, no toxics (GiB/s)", "median": round(proxy_tp / gib, 3),
         "direct": round(direct_tp / gib, 3), "proxy": round(proxy_tp / gib, 3),
         "proxy_per_run": [round(x / gib, 3) for x in proxy_bps],
         "direct_per_run": [round(x / gib, 3) for x in direct_bps],
         "ratio": round(proxy_tp / direct_tp, 3),
         "proxycpu_seconds_per_gib": round(statistics.median(cpu_per_gib), 3),
         "bytes_per_run": THROUGHPUT_BYTES, "runs": repeat,
         "goal": ">= 1.1 GiB/s", **host},
        {"figure": "latency toxic 100 ms, |observed - requested| (ms)", "p50": _ms(_pct(abs_errors, 0.5)),
         "p99": _ms(_pct(abs_errors, 0.99)), "max": _ms(max(abs_errors)),
         "signed_median": _ms(statistics.median(errors)), "baseline_round_trip_ms": _ms(baseline),
         "messages": len(errors), "runs": repeat, "goal": "<= 2 ms", **host},
        {"figure": "1,000 connections + latency toxic: API round trip while loaded (ms)",
         **{kind: {"p50": _ms(_pct(values, 0.5)), "p99": _ms(_pct(values, 0.99)), "max": _ms(max(values)),
                   "calls": len(values)} for kind, values in loaded_api.items()},
         "idle_read": {"p50": _ms(_pct(idle_api, 0.5)), "p99": _ms(_pct(idle_api, 0.99))},
         "bytes_lost": lost,
         "bytes_each_way": CONCURRENT * CONCURRENT_ROUNDS * ROUND_BYTES * repeat,
         "load_seconds_per_run": [round(x, 2) for x in load_seconds], "connections": CONCURRENT,
         "runs": repeat,
         "goal": "no byte lost; API <= 50 ms", **host},
        {"figure": "add/remove a toxic while the client does not read (ms)",
         "add_median": _ms(statistics.median(add_s)), "add_max": _ms(max(add_s)),
         "remove_median": _ms(statistics.median(remove_s)), "remove_max": _ms(max(remove_s)),
         "every_byte_echoed_in_order": all(intact), "runs": repeat,
         "goal": "API not blocked (<= 50 ms)",
         **host},
    ]
