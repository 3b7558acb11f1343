"""Prometheus text for ``/metrics``, as Toxiproxy's ``-proxy-metrics`` and ``-runtime-metrics``.

Proxy metrics are the byte counters Toxiproxy exports per proxy and direction. Runtime metrics
are the ``process_*`` family of Prometheus's process collector (CPU, memory, descriptors, start
time), which Toxiproxy exports next to its Go runtime's ``go_*`` metrics; a Python server has no
Go runtime to report, so it exports the process family alone.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gameday.proxy.link import Direction
from gameday.proxy.proxy import Proxy

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # Prometheus's text format
_COUNTERS = (
    ("toxiproxy_proxy_received_bytes_total", "Bytes read from the sources of connections", "received"),
    ("toxiproxy_proxy_sent_bytes_total", "Bytes written to the destinations of connections", "sent"),
)


@dataclass(frozen=True, slots=True)
class MetricsOptions:
    """Which metrics ``/metrics`` serves; with neither, there is no ``/metrics`` (a 404)."""

    proxy: bool = False  # Toxiproxy's -proxy-metrics
    runtime: bool = False  # Toxiproxy's -runtime-metrics

    @property
    def enabled(self) -> bool:
        return self.proxy or self.runtime


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _proxy_lines(proxies: list[Proxy]) -> list[str]:
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
    return lines


def _process_values() -> list[tuple[str, str, str, float]]:
    """(name, type, help, value) of what this process can tell about itself."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    values = [("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
               usage.ru_utime + usage.ru_stime),
              ("process_max_fds", "gauge", "Maximum number of open file descriptors.",
               resource.getrlimit(resource.RLIMIT_NOFILE)[0])]
    proc = Path("/proc/self")
    if proc.is_dir():  # Linux
        page = os.sysconf("SC_PAGE_SIZE")
        virtual, resident = (int(field) * page for field in (proc / "statm").read_text().split()[:2])
        start_ticks = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        values += [
            ("process_open_fds", "gauge", "Number of open file descriptors.", len(os.listdir(proc / "fd"))),
            ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", resident),
            ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtual),
            ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
             boot + start_ticks / os.sysconf("SC_CLK_TCK")),
        ]
    return values


def _runtime_lines() -> list[str]:
    lines: list[str] = []
    for name, kind, help_text, value in _process_values():
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value!r}"]
    return lines


def render(options: MetricsOptions, proxies: Iterable[Proxy]) -> str:
    lines = _proxy_lines(list(proxies)) if options.proxy else []
    if options.runtime:
        lines += _runtime_lines()
    return "\n".join(lines) + "\n"
