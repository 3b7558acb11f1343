"""Is an address on loopback? Judged by its spelling alone: no name is looked up (a name may change).

Every place the harness keeps traffic on this host asks here: target files, ``TOXIPROXY_URL``, the
locust load's hosts, the venue a target file has the harness run, and the fault proxy's listen and
upstream addresses.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_NAMES", "is_loopback_address", "is_loopback_host"]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
"""Names that mean loopback on every Linux host (``/etc/hosts``); any other name is not provably so."""


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name or an IP literal, without brackets) is on loopback.

    ``127.0.0.0/8``, ``::1`` and IPv4-mapped loopback (``::ffff:127.0.0.1``) are; so are the names in
    :data:`LOOPBACK_NAMES`."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_loopback_address(address: str) -> bool:
    """Whether every host a URL or DSN names is on loopback (a multi-host DSN names several)."""
    netloc = urlsplit(address).netloc.rsplit("@", 1)[-1]
    hosts = [part.rsplit(":", 1)[0] if not part.startswith("[") else part[1:part.index("]")]
             for part in netloc.split(",") if part]
    return bool(hosts) and all(is_loopback_host(host) for host in hosts)
