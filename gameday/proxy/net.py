"""Sockets of the proxy: parsing ``host:port``, binding listeners, dialling upstreams.

Addresses are read as Go reads them, since Toxiproxy is written in Go and its clients rely on it:

- a port is decimal 0-65535 (leading zeros allowed) or a TCP service name (``http``: 80, from
  ``/etc/services`` or Go's own short list), matched without regard to case;
- a listen address on every interface (no host, ``0.0.0.0`` or ``::``) is one dual-stack socket,
  reported as ``[::]:PORT``; an IPv4-mapped IPv6 host is its IPv4 address;
- :func:`resolved_address` is Go's ``net.ResolveTCPAddr(...).String()``, how Toxiproxy decides
  whether a proxy's new listen address differs from the one it is bound to.

Listen errors read like Go's (``listen tcp ADDR: bind: Address already in use``), since the API
reports them.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import re
import socket
from typing import Any

BACKLOG = 4096


class ListenError(OSError):
    """The listen address could not be resolved or bound (the API answers 500, as Toxiproxy does;
    one that does not parse is refused before, with a 400: :mod:`gameday.proxy.limits`)."""


MAX_PORT = 65535
# Go's net package knows these even without /etc/services (net/lookup.go).
GO_SERVICES = {"ftp": 21, "ftps": 990, "gopher": 70, "http": 80, "https": 443, "imap2": 143, "imap3": 220,
               "imaps": 993, "pop3": 110, "pop3s": 995, "smtp": 25, "submissions": 465, "ssh": 22,
               "telnet": 23}
_SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9_.+-]{0,63}")
_SIGNED = re.compile(r"[+-][0-9]+")
_NO_FAMILY = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL, errno.EPROTONOSUPPORT)


def resolve_port(text: str) -> int:
    """The port ``text`` names: decimal 0-65535 or a TCP service name. ValueError if neither."""
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) <= 5 and int(digits) <= MAX_PORT:
            return int(digits)
    elif not (text.isascii() and _SIGNED.fullmatch(text)):
        return _service_port(text)
    raise ValueError(f"invalid port {text[:16]!r}: a port is a number 0-{MAX_PORT}")


def _service_port(text: str) -> int:
    name = text.lower()
    if _SERVICE_NAME.fullmatch(name):
        try:
            return socket.getservbyname(name, "tcp")
        except OSError:
            if name in GO_SERVICES:
                return GO_SERVICES[name]
    raise ValueError(f"unknown port {text[:16]!r}: not a number 0-{MAX_PORT} nor a TCP service name")


def split_host_port(address: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` -> (host, port), the port resolved (:func:`resolve_port`).

    ValueError, worded as Go's ``net.SplitHostPort``, if malformed.
    """
    host, sep, port = address.rpartition(":")
    if not sep or not port:
        raise ValueError("missing port in address")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError("missing ']' in address")
        host = host[1:-1]
    elif ":" in host:
        raise ValueError("too many colons in address")
    if "[" in host or "]" in host:
        raise ValueError("unexpected bracket in address")
    return host, resolve_port(port)


def check_address(address: str) -> None:
    """ListenError unless ``address`` reads as ``host:port`` (or is ``""``: every interface)."""
    try:
        if address:
            split_host_port(address)
    except ValueError as exc:
        raise ListenError(f"listen tcp {address}: address {address}: {exc}") from None


def format_address(sockaddr: tuple[Any, ...]) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def set_nodelay(sock: socket.socket) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _resolve(host: str, port: int, flags: int = 0) -> list[Any]:
    """getaddrinfo, without a trip to the executor for a numeric host."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return await asyncio.get_running_loop().getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=flags
        )
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=flags | socket.AI_NUMERICHOST)


_EVERY_INTERFACE = ("", "0.0.0.0", "::")


def _unmapped(host: str) -> str:
    """An IPv4-mapped IPv6 host as its IPv4 address, as Go listens on and reports it."""
    try:
        mapped = getattr(ipaddress.ip_address(host), "ipv4_mapped", None)
    except ValueError:
        return host
    return host if mapped is None else str(mapped)


async def resolved_address(address: str) -> str:
    """Go's ``net.ResolveTCPAddr("tcp", address).String()``: ``localhost:80`` -> ``127.0.0.1:80``,
    ``[::1]:0`` -> ``[::1]:0``, ``""`` -> ``:0``; the first IPv4 address of a name unless the
    address is bracketed. ListenError if it does not parse or resolve."""
    try:
        host, port = split_host_port(address) if address else ("", 0)
    except ValueError as exc:
        raise ListenError(f"address {address}: {exc}") from None
    if not host:
        return f":{port}"
    host = _unmapped(host)
    try:
        infos = await _resolve(host, port)
    except OSError as exc:
        raise ListenError(f"lookup {host}: {exc.strerror or exc}") from None
    want_v6 = "[" in address
    chosen = next((info for info in infos if (info[0] == socket.AF_INET) != want_v6), infos[0])
    return format_address(chosen[4])


def _listening(family: int, sockaddr: Any, dual_stack: bool) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if dual_stack:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def bind_listener(address: str) -> socket.socket:
    """A listening, non-blocking socket for ``host:port``: a name's first IPv4 address, as Go
    resolves; every interface (``""``, ``0.0.0.0``, ``::``) one dual-stack socket, as Go listens
    (IPv4 alone where the machine has no IPv6)."""
    try:
        host, port = split_host_port(address) if address else ("", 0)
    except ValueError as exc:
        raise ListenError(f"listen tcp {address}: address {address}: {exc}") from None
    host = _unmapped(host)
    if host in _EVERY_INTERFACE:
        candidates = [(socket.AF_INET6, ("::", port), True)] if socket.has_ipv6 else []
        candidates.append((socket.AF_INET, ("0.0.0.0", port), False))
    else:
        try:
            infos = await _resolve(host, port, socket.AI_PASSIVE)
        except OSError as exc:
            raise ListenError(f"listen tcp {address}: lookup {host}: {exc.strerror or exc}") from None
        family, _, _, _, sockaddr = sorted(infos, key=lambda info: info[0] != socket.AF_INET)[0]
        candidates = [(family, sockaddr, False)]
    error = OSError("no address")
    for family, sockaddr, dual_stack in candidates:
        try:
            return _listening(family, sockaddr, dual_stack)
        except OSError as exc:
            error = exc
            if exc.errno not in _NO_FAMILY:
                break
    raise ListenError(f"listen tcp {address}: bind: {error.strerror or error}")


async def dial(address: str) -> socket.socket:
    """A connected, non-blocking TCP socket to ``host:port`` (each resolved address in turn)."""
    host, port = split_host_port(address)
    loop = asyncio.get_running_loop()
    error: OSError = OSError(f"dial tcp {address}: no address")
    for family, kind, proto, _, sockaddr in await _resolve(host, port):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, sockaddr)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        set_nodelay(sock)
        return sock
    raise error
