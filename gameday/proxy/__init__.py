"""gameday's fault proxy: a Toxiproxy-compatible HTTP API and TCP proxy with toxics.

In process::

    async with ToxiproxyServer("127.0.0.1", 0, seed=7) as server:
        ...  # drive http://127.0.0.1:{server.port} with any Toxiproxy client

As a process: ``python -m gameday.proxy --host 127.0.0.1 --port 8474 --seed 7`` prints
``READY api=<port>`` once serving and exits 0 on SIGTERM/SIGINT; it also takes toxiproxy-server's
own flags (``-config``, ``-proxy-metrics``, ``-runtime-metrics``, ``-version``) and ``LOG_LEVEL``.

Stricter than Toxiproxy where a client's mistake would otherwise be a 500 or a proxy the API
cannot reach: bounded bodies, names and numbers, and loopback addresses only unless the server is
made with ``allow_remote=True`` (:mod:`gameday.proxy.limits`).
"""

from gameday.proxy.api import VERSION
from gameday.proxy.metrics import MetricsOptions
from gameday.proxy.server import ProxyRegistry, ToxiproxyServer
from gameday.proxy.toxics import TOXIC_TYPES

__all__ = ["TOXIC_TYPES", "VERSION", "MetricsOptions", "ProxyRegistry", "ToxiproxyServer"]
