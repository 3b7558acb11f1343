"""Prometheus text for ``GET /metrics`` (the byte counters Toxiproxy exports per proxy)."""

from __future__ import annotations

from collections.abc import Iterable

from gameday.proxy.link import Direction
from gameday.proxy.proxy import Proxy

_COUNTERS = (
    ("toxiproxy_proxy_received_bytes_total", "Bytes read from the sources of connections", "received"),
    ("toxiproxy_proxy_sent_bytes_total", "Bytes written to the destinations of connections", "sent"),
)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(proxies: Iterable[Proxy]) -> str:
    proxies = list(proxies)
    lines: list[str] = []
    for metric, help_text, field in _COUNTERS:
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} counter"]
        for proxy in proxies:
            for direction in Direction:
                labels = (
                    f'direction="{direction.value}",listener="{_label(proxy.listen)}",'
                    f'proxy="{_label(proxy.name)}",upstream="{_label(proxy.upstream)}"'
                )
                lines.append(f"{metric}{{{labels}}} {getattr(proxy.total_traffic(direction), field)}")
    return "\n".join(lines) + "\n"
