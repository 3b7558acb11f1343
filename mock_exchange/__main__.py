"""``python -m mock_exchange --config venue.json``: serve until SIGTERM/SIGINT, then exit 0."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from mock_exchange.config import VenueConfig
from mock_exchange.venue import Venue


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mock_exchange", description="Mock FIX 4.4 venue")
    parser.add_argument("--config", required=True, type=Path, help="VenueConfig JSON file")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    return parser.parse_args(argv)


async def serve(config: VenueConfig) -> None:
    """Run the venue until SIGTERM or SIGINT; print the READY line once serving."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with Venue(config) as venue:
        print(f"READY fix={venue.fix_port} admin={venue.admin_port}", flush=True)
        await stop.wait()
        logging.getLogger(__name__).info("signal received, shutting down")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = VenueConfig.model_validate_json(args.config.read_text(encoding="utf-8"))
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
