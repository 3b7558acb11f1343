"""The metrics probe: every service's ``/metrics`` at the probe interval, one ``metrics`` op a tick.

Each tick GETs every target at once, each bounded by :func:`scrape_timeout` (the interval, at least
0.2 s and at most 1 s), and records one op (``metrics`` / ``probe-metrics`` / ``scrape``) whose value is
``{"targets": {service: {"ok": true, "ms", "samples": [[name, labels, value], ...], "dropped"?}}}``; a
target that did not answer 200 with the text format is ``{"ok": false, "error", "status"?}``: its series
are absent at that tick, never zero. Only the wanted families are kept (:mod:`gameday.metrics.exposition`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from gameday.history import History, OpKind, OpType
from gameday.metrics.exposition import DEFAULT_FAMILIES, ExpositionError, parse_exposition, sample_names
from gameday.metrics.series import METRICS_PROCESS, SCRAPE_F
from gameday.probes import every

__all__ = ["METRICS_PROCESS", "SCRAPE_F", "metrics_probe", "scrape_once", "scrape_timeout", "venue_headers"]

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_ERROR_CHARS = 300


def scrape_timeout(interval_s: float) -> float:
    return min(1.0, max(0.2, interval_s))


def venue_headers(targets: Mapping[str, str], venue_admin_url: str,
                  token: str | None) -> dict[str, dict[str, str]]:
    """The venue admin API's bearer token for a target served on it (the venue's admin port requires it)."""
    if not token or not venue_admin_url:
        return {}
    return {service: {"Authorization": f"Bearer {token}"} for service, url in targets.items()
            if url.startswith(venue_admin_url.rstrip("/") + "/")}


async def _scrape(session: aiohttp.ClientSession, url: str, wanted: frozenset[str],
                  bound: aiohttp.ClientTimeout, headers: Mapping[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        async with session.get(url, timeout=bound, headers=headers) as response:
            if response.status != 200:
                return {"ok": False, "status": response.status, "error": f"HTTP {response.status}"}
            body = await response.content.read(MAX_BODY_BYTES)
        parsed = parse_exposition(body.decode("utf-8", errors="replace"), wanted)
    except (aiohttp.ClientError, TimeoutError, ExpositionError) as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]}
    scraped: dict[str, Any] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 2),
                               "samples": [sample.record() for sample in parsed.samples]}
    if parsed.dropped:
        scraped["dropped"] = parsed.dropped
    return scraped


async def scrape_once(session: aiohttp.ClientSession, targets: Mapping[str, str], wanted: frozenset[str],
                      timeout_s: float, headers: Mapping[str, Mapping[str, str]] | None = None,
                      ) -> dict[str, dict[str, Any]]:
    """Every target's scrape, at once: service → what it answered (``headers``: per service)."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    sent = headers or {}
    answers = await asyncio.gather(*(_scrape(session, url, wanted, timeout, sent.get(service, {}))
                                     for service, url in targets.items()))
    return dict(zip(targets, answers, strict=True))


async def metrics_probe(session: aiohttp.ClientSession, targets: Mapping[str, str], history: History,
                        interval_s: float, families: Iterable[str] = (),
                        headers: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Scrape ``targets`` (service → metrics URL) until cancelled; ``families`` beside the default set;
    ``headers`` sent to a service's endpoint (e.g. :func:`venue_headers`)."""
    if not targets:
        return
    wanted = sample_names(DEFAULT_FAMILIES | frozenset(families))
    timeout_s = scrape_timeout(interval_s)

    async def tick() -> None:
        history.append(OpKind.METRICS, OpType.OK, METRICS_PROCESS, SCRAPE_F,
                       {"targets": await scrape_once(session, targets, wanted, timeout_s, headers)})

    await every(interval_s, tick)
