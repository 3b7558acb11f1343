"""Benchmarks: ``python -m bench [name ...]``. Each prints its figures as JSON lines.

Figures go to BENCHMARKS.md with the command, the machine and the date.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from bench import (
    backends,
    cold_start,
    feeds,
    load,
    proxy,
    proxy_floor,
    rto,
    scrape,
    stress_matrix,
    venue,
    verdict,
)

BENCHES = {
    "backends": backends.main,
    "cold-start": cold_start.main,
    "load": load.main,
    "proxy": proxy.main,
    "proxy-floor": proxy_floor.main,
    "rto": rto.main,
    "scrape": scrape.main,
    "stress-matrix": stress_matrix.main,
    "venue-throughput": venue.throughput,
    "venue-latency": venue.latency,
    "venue-ledger": venue.ledger,
    "feed-throughput": feeds.main,
    "time-to-verdict": verdict.main,
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help=f"benchmarks to run, of {sorted(BENCHES)} (default all)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name in args.names or list(BENCHES):
        for figure in asyncio.run(BENCHES[name](args.repeat)):
            print(json.dumps({"bench": name, **figure}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
