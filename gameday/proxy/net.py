"""Sockets of the proxy: parsing ``host:port``, binding listeners, dialling upstreams.

Addresses are written as Go writes them (``host:port``, ``[v6]:port``), and listen errors read
like Go's (``listen tcp ADDR: bind: Address already in use``), since the API reports them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

BACKLOG = 4096


class ListenError(OSError):
    """The listen address could not be resolved or bound (the API answers 500, as Toxiproxy does;
    one that does not parse is refused before, with a 400: :mod:`gameday.proxy.limits`)."""


MAX_PORT = 65535


def split_host_port(address: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` -> (host, port), the port 0-65535.

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
    if not (port.isascii() and port.isdigit()) or len(port) > 5 or int(port) > MAX_PORT:
        raise ValueError(f"invalid port {port[:16]!r}: a port is a number 0-{MAX_PORT}")
    return host, int(port)


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


async def bind_listener(address: str) -> socket.socket:
    """A listening, non-blocking socket for ``host:port`` (IPv4 preferred, as Go resolves)."""
    try:
        host, port = split_host_port(address) if address else ("", 0)  # "": as Go, every interface
        infos = await _resolve(host, port, socket.AI_PASSIVE)
    except ValueError as exc:
        raise ListenError(f"listen tcp {address}: address {address}: {exc}") from None
    except OSError as exc:
        raise ListenError(f"listen tcp {address}: lookup {host}: {exc.strerror or exc}") from None
    preferred = socket.AF_INET6 if not host else socket.AF_INET
    family, kind, proto, _, sockaddr = sorted(infos, key=lambda info: info[0] != preferred)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and not host:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ListenError(f"listen tcp {address}: bind: {exc.strerror or exc}") from None
    return sock


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
