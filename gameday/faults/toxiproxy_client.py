"""An async client for the Toxiproxy HTTP API.

Speaks to our own server (``gameday.proxy``) or to a real toxiproxy-server alike. It is async
(the harness's loop must not block on a fault) and holds its base URL per instance, where the
sync ``toxiproxy-python`` client keeps one global host and port.
"""

from __future__ import annotations

from typing import Any

import aiohttp


class ToxiproxyError(Exception):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        self.status = status
        super().__init__(f"toxiproxy {method} {path} -> {status}: {body.strip()}")


class ToxiproxyClient:
    def __init__(self, base_url: str, session: aiohttp.ClientSession) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session

    async def _call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        async with self._session.request(
            method, self.base_url + path, json=body, timeout=aiohttp.ClientTimeout(total=5)
        ) as response:
            text = await response.text()
            if response.status not in expect:
                raise ToxiproxyError(method, path, response.status, text)
            return await response.json(content_type=None) if text.strip() else None

    async def version(self) -> str:
        async with self._session.get(self.base_url + "/version") as response:
            text = await response.text()
        return text

    async def proxies(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = await self._call("GET", "/proxies")
        return result

    async def populate(self, proxies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        result = await self._call("POST", "/populate", proxies, expect=(200, 201))
        created: list[dict[str, Any]] = result["proxies"] if isinstance(result, dict) else result
        return created

    async def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> dict[str, Any]:
        body = {"name": name, "upstream": upstream, "listen": listen, "enabled": True}
        result: dict[str, Any] = await self._call("POST", "/proxies", body, expect=(201,))
        return result

    async def update_proxy(self, name: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", f"/proxies/{name}", fields)
        return result

    async def set_enabled(self, name: str, enabled: bool) -> dict[str, Any]:
        return await self.update_proxy(name, enabled=enabled)

    async def add_toxic(
        self, proxy: str, type_: str, *, name: str | None = None, stream: str = "downstream",
        toxicity: float = 1.0, attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"type": type_, "stream": stream, "toxicity": toxicity,
                                "attributes": attributes or {}}
        if name is not None:
            body["name"] = name
        result: dict[str, Any] = await self._call("POST", f"/proxies/{proxy}/toxics", body)
        return result

    async def remove_toxic(self, proxy: str, name: str) -> None:
        await self._call("DELETE", f"/proxies/{proxy}/toxics/{name}", expect=(204,))

    async def reset(self) -> None:
        await self._call("POST", "/reset", expect=(204,))
