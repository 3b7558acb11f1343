"""An async client for the Toxiproxy HTTP API.

Speaks to our own server (``gameday.proxy``) or to a real toxiproxy-server alike. It is async
(the harness's loop must not block on a fault) and holds its base URL per instance, where the
sync ``toxiproxy-python`` client keeps one global host and port.

With an ``owner`` (the run id) the client shares a server with other runs: callers name hops, the
server holds the proxy ``gd-<owner>.<hop>``, and the client reads, heals and deletes only the
proxies of its owner. The owner may not contain a ``.``, so the first ``.`` ends it and no two
owners' names can meet (with ``-`` as the separator, owner ``r1``'s hop ``x-h`` would be owner
``r1-x``'s hop ``h``). Toxiproxy accepts any non-empty proxy name; names are percent-encoded in
paths, where a ``/`` cannot pass either server's router.

With a ``token`` every request carries ``Authorization: Bearer <token>``: our server started with
one (the harness gives the proxy it starts a per-run token) answers 401 to a request without it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
from yarl import URL

logger = logging.getLogger(__name__)

OWNED_PREFIX = "gd-"
OWNER_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
REQUEST_TIMEOUT_S = 5.0


class ToxiproxyError(Exception):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.status = status
        super().__init__(f"toxiproxy {method} {path} -> {status}: {body.strip()}")


class OwnershipRecord(Protocol):
    """Where a run writes down the proxies it is about to create, for the reaper of a later run, with
    the API token the server needs (``None``: it needs none)."""

    def add(self, base_url: str, names: Sequence[str], token: str | None = None) -> None: ...

    def discard(self, base_url: str, names: Sequence[str]) -> None: ...


def proxy_path(name: str) -> str:
    return "/proxies/" + quote(name, safe="")


def toxic_path(proxy_name: str, toxic: str) -> str:
    return f"{proxy_path(proxy_name)}/toxics/{quote(toxic, safe='')}"


class ToxiproxyClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession, *, owner: str | None = None,
                 record: OwnershipRecord | None = None, names: Mapping[str, str] | None = None,
                 token: str | None = None) -> None:
        if owner is not None and not OWNER_PATTERN.fullmatch(owner):
            raise ValueError(f"a proxy owner is letters, digits, '_' and '-', not {owner!r}")
        if record is not None and owner is None:
            raise ValueError("recorded proxies need an owner, or the reaper could delete another run's")
        if names is not None and owner is not None:
            raise ValueError("proxies are either the run's own (an owner) or the user's, named as given")
        self.base_url = base_url.rstrip("/")
        self.owner = owner
        self._session = session
        self._token = token
        self._headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        self._prefix = "" if owner is None else f"{OWNED_PREFIX}{owner}."
        self._record = record
        self._created: dict[str, str] = {}  # proxy name -> hop, claimed before the create request
        self._names = dict(names or {})  # hop -> the name of a proxy the user wired (never deleted)
        self._hops = {name: hop for hop, name in self._names.items()}

    # --- names --------------------------------------------------------------------------------

    def proxy_name(self, hop: str) -> str:
        """The name on the server of the proxy for ``hop``."""
        return self._names.get(hop, self._prefix + hop)

    def hop_of(self, proxy_name: str) -> str | None:
        """The hop a proxy name stands for, or ``None`` if the proxy is not this owner's."""
        if self._names:
            return self._hops.get(proxy_name)
        return proxy_name.removeprefix(self._prefix) if proxy_name.startswith(self._prefix) else None

    @property
    def created(self) -> list[str]:
        """The hops whose proxies this client (with an owner) created and has not deleted yet."""
        return list(self._created.values())

    def _claim(self, hops: Iterable[str]) -> None:
        if self.owner is None:
            return  # a name without an owner may be another run's: never delete it
        claimed = {self.proxy_name(hop): hop for hop in hops}
        if self._record is not None:
            self._record.add(self.base_url, list(claimed), token=self._token)
        self._created.update(claimed)

    def _as_hop(self, proxy: dict[str, Any]) -> dict[str, Any]:
        name = proxy.get("name")
        hop = self.hop_of(name) if isinstance(name, str) else None
        return proxy if hop is None or hop == name else {**proxy, "name": hop}

    # --- calls --------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        async with self._session.request(
            method, URL(self.base_url + path, encoded=True), json=body, headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        ) as response:
            text = await response.text()
            if response.status not in expect:
                raise ToxiproxyError(method, path, response.status, text)
            return await response.json(content_type=None) if text.strip() else None

    async def version(self) -> str:
        async with self._session.get(self.base_url + "/version", headers=self._headers) as response:
            text = await response.text()
        return text

    async def proxies(self) -> dict[str, dict[str, Any]]:
        """Every proxy on the server, or with an owner only the owner's; keyed by hop."""
        result: dict[str, dict[str, Any]] = await self._call("GET", "/proxies")
        return {hop: self._as_hop(proxy) for name, proxy in result.items()
                if (hop := self.hop_of(name)) is not None}

    async def populate(self, proxies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self._claim(proxy["name"] for proxy in proxies)
        body = [{**proxy, "name": self.proxy_name(proxy["name"])} for proxy in proxies]
        result = await self._call("POST", "/populate", body, expect=(200, 201))
        created: list[dict[str, Any]] | None = result["proxies"] if isinstance(result, dict) else result
        return [self._as_hop(proxy) for proxy in created or ()]  # Toxiproxy answers null for nothing created

    async def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> dict[str, Any]:
        self._claim([name])
        body = {"name": self.proxy_name(name), "upstream": upstream, "listen": listen, "enabled": True}
        result: dict[str, Any] = await self._call("POST", "/proxies", body, expect=(201,))
        return self._as_hop(result)

    async def update_proxy(self, name: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", proxy_path(self.proxy_name(name)), fields)
        return self._as_hop(result)

    async def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        return await self.update_proxy(name, enabled=enabled)

    async def delete_proxy(self, name: str) -> None:
        """Delete the proxy of hop ``name``; one already gone is not an error."""
        await self._call("DELETE", proxy_path(self.proxy_name(name)), expect=(204, 404))
        self._created.pop(self.proxy_name(name), None)
        if self._record is not None:
            self._record.discard(self.base_url, [self.proxy_name(name)])

    async def add_toxic(
        self, proxy: str, type_: str, *, name: str | None = None, stream: str = "downstream",
        toxicity: float = 1.0, attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"type": type_, "stream": stream, "toxicity": toxicity,
                                "attributes": attributes or {}}
        if name is not None:
            body["name"] = name
        path = proxy_path(self.proxy_name(proxy)) + "/toxics"
        result: dict[str, Any] = await self._call("POST", path, body)
        return result

    async def remove_toxic(self, proxy: str, name: str) -> None:
        await self._call("DELETE", toxic_path(self.proxy_name(proxy), name), expect=(204,))

    async def reset(self) -> None:
        """Remove every toxic and enable every proxy: with an owner or named proxies, only those."""
        if self.owner is None and not self._names:
            await self._call("POST", "/reset", expect=(204,))
            return
        for hop, proxy in (await self.proxies()).items():
            name = self.proxy_name(hop)
            for toxic in proxy.get("toxics") or []:
                await self._call("DELETE", toxic_path(name, toxic["name"]), expect=(204, 404))
            if not proxy.get("enabled", True):
                await self._call("POST", proxy_path(name), {"enabled": True}, expect=(200, 404))

    async def delete_own(self) -> list[str]:
        """Delete every proxy this client created (none without an owner); returns the hops whose
        proxies are gone.

        One already gone counts as deleted, and so does every one on a server that refuses the
        connection (Toxiproxy holds proxies in memory only). On a server that fails otherwise it
        stops at the first failure: what is left stays in :attr:`created` and in the record, for
        the reaper of a later run.
        """
        gone: list[str] = []
        for name, hop in list(self._created.items()):
            try:
                await self.delete_proxy(hop)
            except ToxiproxyError as exc:
                logger.warning("proxy %s left on %s: %s", name, self.base_url, exc)
                continue
            except (aiohttp.ClientError, TimeoutError) as exc:
                if _refused(exc):
                    return gone + self._forget_all()
                logger.warning("toxiproxy %s unreachable, %d own proxies left: %r",
                               self.base_url, len(self._created), exc)
                return gone
            gone.append(hop)
        return gone

    def _forget_all(self) -> list[str]:
        hops = self.created
        if self._record is not None:
            self._record.discard(self.base_url, list(self._created))
        self._created.clear()
        return hops


def _refused(exc: BaseException) -> bool:
    return isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, ConnectionRefusedError)
