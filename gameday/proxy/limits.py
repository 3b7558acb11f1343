"""What the API accepts beyond Toxiproxy's own rules: sizes, names and addresses.

Real Toxiproxy takes any name and any address. This server is stricter, so that whatever it
creates can be listed, addressed and deleted through the API, and stays on loopback unless its
operator allows otherwise. Each rule breaks with a 400 (a body over the limit: 413):

- a request body is at most :data:`MAX_BODY_BYTES`; its JSON nests at most
  :data:`gameday.proxy.gojson.MAX_DEPTH` deep;
- a proxy or toxic name is 1 to :data:`MAX_NAME_LENGTH` characters of printable ASCII (space to
  ``~``) except ``/``, neither starting nor ending with a space, and not ``.`` or ``..`` (which
  clients drop from a path). ``gd-<run-id>.oms-primary->exchange`` is a name;
- an address is ``host:port`` or ``[v6]:port``: the host an IP address or a DNS name (or empty),
  the port decimal 0-65535 or a TCP service name, as Go reads it (an upstream's 1-65535: nothing
  answers on port 0); a listen address of ``""`` is every interface, port 0, as in Go;
- without ``allow_remote`` each host is loopback: ``127.0.0.0/8``, ``::1`` or ``localhost``
  (every interface is not: so a proxy created without a listen address, which Toxiproxy puts on
  every interface, is refused with :data:`MISSING_LISTEN` rather than moved to loopback, where
  the hosts that were meant to reach it could not).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from gameday.loopback import is_loopback_host
from gameday.proxy import errors
from gameday.proxy.net import split_host_port

MAX_BODY_BYTES = 1024 * 1024
MAX_NAME_LENGTH = 128
NAME_RULE = (
    f"1-{MAX_NAME_LENGTH} printable ASCII characters other than '/', "
    "without leading or trailing spaces, not '.' or '..'"
)
_NAME = re.compile(r"[\x21-\x2e\x30-\x7e](?:[\x20-\x2e\x30-\x7e]*[\x21-\x2e\x30-\x7e])?")
_HOST_NAME = re.compile(r"(?=.{1,253}\Z)(?:[A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?")
_ZONE = re.compile(r"[A-Za-z0-9_.-]{1,32}")  # an IPv6 scope: an interface name or number
LOOPBACK_RULE = "127.0.0.0/8, ::1 or localhost"
MISSING_LISTEN = (
    "listen address missing: Toxiproxy then listens on every interface, which this server does only "
    "when started with --allow-remote (allow_remote); give a loopback address such as 127.0.0.1:0"
)


def shown(text: str, limit: int = 64) -> str:
    """``text`` quoted for a message, cut short (a client may send a megabyte)."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def check_name(kind: str, name: str) -> None:
    """BadRequest unless ``name`` (of a ``kind``: "proxy" or "toxic") can be addressed by the API."""
    if len(name) > MAX_NAME_LENGTH or not _NAME.fullmatch(name) or name in (".", ".."):
        raise errors.BadRequest(f"invalid {kind} name {shown(name, 32)}: a name is {NAME_RULE}")


def is_host(host: str) -> bool:
    """Whether ``host`` is empty, an IP address or a DNS name (what a lookup accepts)."""
    if host == "" or _HOST_NAME.fullmatch(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    _, percent, zone = host.partition("%")
    return not percent or _ZONE.fullmatch(zone) is not None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which listen and upstream addresses the API accepts."""

    allow_remote: bool = False

    def check_listen(self, address: str) -> None:
        host = "" if address == "" else self._split("listen", address)[0]
        self._check_host("listen", address, host)

    def check_upstream(self, address: str) -> None:
        host, port = self._split("upstream", address)
        if port == 0:
            raise errors.BadRequest(f"upstream address {shown(address)}: port must be 1-65535")
        self._check_host("upstream", address, host)

    @staticmethod
    def _split(field: str, address: str) -> tuple[str, int]:
        try:
            host, port = split_host_port(address)
        except ValueError as exc:
            raise errors.BadRequest(f"{field} address {shown(address)}: {exc}") from None
        if not is_host(host):
            raise errors.BadRequest(
                f"{field} address {shown(address)}: host {shown(host)} is not an IP address or a host name"
            )
        return host, port

    def _check_host(self, field: str, address: str, host: str) -> None:
        if self.allow_remote or is_loopback_host(host):
            return
        if field == "listen" and address == "":
            raise errors.BadRequest(MISSING_LISTEN)
        where = f"host {shown(host)}" + (" (every interface)" if host == "" and field == "listen" else "")
        raise errors.BadRequest(
            f"{field} address {shown(address)}: {where} is not loopback ({LOOPBACK_RULE}); "
            "this server accepts other hosts only when started with allow_remote"
        )
