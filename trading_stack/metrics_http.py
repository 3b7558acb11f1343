"""``GET /metrics`` (Prometheus text exposition) of one process's own registry.

Counters and histograms are observed inline where things happen; gauges that are derived from
state (positions, backlogs, roles) are read at scrape time by a :class:`ReadingCollector`, so
keeping them costs nothing between scrapes. A reading that fails is logged and left out: the
route answers 200 with what it could read, never 500. No token: it is read-only, like any
Prometheus target.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

__all__ = ["ReadingCollector", "gauge", "labelled_gauge", "metrics_handler", "new_registry", "up_registry"]

Reading = Callable[[], Iterable[Metric]]


def new_registry() -> CollectorRegistry:
    """A registry of this process's own (never the global default: two services, one test process)."""
    return CollectorRegistry(auto_describe=False)


def up_registry(service: str) -> CollectorRegistry:
    """A registry holding ``<service>_up 1`` alone (a service with nothing else to show yet)."""
    registry = new_registry()
    registry.register(ReadingCollector(lambda: [gauge(f"{service}_up", "the service serves", 1)]))
    return registry


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def labelled_gauge(name: str, documentation: str, label: str,
                   values: Mapping[str, float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class ReadingCollector(Collector):
    """Each of ``readings`` yields metric families read at scrape time; one that fails is skipped."""

    def __init__(self, *readings: Reading) -> None:
        self._readings = readings

    def collect(self) -> Iterable[Metric]:
        families: list[Metric] = []
        for reading in self._readings:
            try:
                families.extend(reading())
            except Exception:  # a scrape must answer: what failed is logged and left out
                log.exception("a metrics reading failed: left out of this scrape")
        return families


def metrics_handler(registry: CollectorRegistry) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The route's handler (synchronous work: the exposition is built from memory)."""

    def exposition() -> bytes:
        try:
            return generate_latest(registry)
        except Exception:  # a collector's bug: logged, and the scrape gets an empty exposition
            log.exception("metrics exposition failed")
            return b""

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    return metrics
