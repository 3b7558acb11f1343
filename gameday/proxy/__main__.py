"""``python -m gameday.proxy --host H --port P --seed N``: serve until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from gameday.proxy.server import ToxiproxyServer
from gameday.proxy.timing import precise_event_loop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m gameday.proxy", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="API listen host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8474, help="API port; 0 picks a free one")
    parser.add_argument("--seed", type=int, default=0, help="seed of the toxicity and jitter rolls")
    return parser.parse_args(argv)


async def serve(host: str, port: int, seed: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with ToxiproxyServer(host, port, seed) as server:
        print(f"READY api={server.port}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with asyncio.Runner(loop_factory=precise_event_loop) as runner:
            runner.run(serve(args.host, args.port, args.seed))
    except OSError as exc:
        print(f"gameday.proxy: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
