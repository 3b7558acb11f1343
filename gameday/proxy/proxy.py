"""A proxy as the API sees it: a name, a listen and an upstream address, ``enabled``, toxics.

It lives in the API thread. Its traffic runs in the data loop, in a
:class:`~gameday.proxy.relay.Relay`, which every change reaches as a data-plane operation.
The listener is bound here (so the API reports the bound address or the bind error) and handed
to the relay, which accepts on it and closes it.
"""

from __future__ import annotations

import logging
from typing import Any

from gameday.proxy.collection import ToxicCollection
from gameday.proxy.dataplane import DataPlane
from gameday.proxy.link import Direction, Traffic
from gameday.proxy.net import ListenError, bind_listener, check_address, format_address, resolved_address
from gameday.proxy.relay import Relay

logger = logging.getLogger(__name__)


class Proxy:
    """Listener + toxics of one proxy. ``enabled`` is whether it is listening."""

    def __init__(self, name: str, listen: str, upstream: str, relay: Relay, plane: DataPlane) -> None:
        self.name = name
        self.listen = listen
        self._upstream = upstream
        self._enabled = False
        self.relay = relay
        self._plane = plane
        self.toxics = ToxicCollection(relay, plane)

    @property
    def upstream(self) -> str:
        return self._upstream

    @property
    def enabled(self) -> bool:
        return self._enabled

    async def start(self) -> None:
        """Bind and listen; ``listen`` becomes the bound address. No-op if already listening."""
        if self._enabled:
            return
        listener = await bind_listener(self.listen)
        self.listen = format_address(listener.getsockname())
        await self._plane.call(self.relay.listen, listener, self._upstream)
        self._enabled = True
        logger.info("Started proxy %s on %s to %s", self.name, self.listen, self._upstream)

    async def stop(self) -> None:
        """Close the listener (new connects are refused) and every open connection."""
        if self._enabled:
            self._enabled = False
            await self._plane.call(self.relay.stop)
            logger.info("Terminated proxy %s on %s", self.name, self.listen)

    async def differs(self, listen: str, upstream: str) -> bool:
        """Whether these addresses are not the proxy's, as Toxiproxy decides: the listen address
        compared once resolved (``localhost:P`` is ``127.0.0.1:P``), the upstream as written.
        ListenError if ``listen`` does not resolve."""
        resolved = await resolved_address(listen)
        return upstream != self._upstream or resolved != self.listen

    async def update(self, listen: str, upstream: str, enabled: bool) -> None:
        """Apply ``POST /proxies/{name}``: a new address restarts it (closing its connections; the
        same address resolved otherwise keeps them), ``enabled`` toggles it.

        A listen address that cannot be parsed, resolved or bound raises ListenError and leaves
        the proxy on its previous addresses (listening again if it was).
        """
        previous = (self.listen, self._upstream, self.enabled)
        if await self.differs(listen, upstream):
            check_address(listen)
            await self.stop()
            self.listen, self._upstream = listen, upstream
        try:
            if enabled and not self.enabled:
                await self.start()
            elif not enabled and self.enabled:
                await self.stop()
        except ListenError:
            self.listen, self._upstream, was_enabled = previous
            if was_enabled:
                await self.start()
            raise

    def total_traffic(self, direction: Direction) -> Traffic:
        return self.relay.total_traffic(direction)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self._upstream,
            "enabled": self.enabled,
            "toxics": [entry.to_json() for entry in self.toxics.entries()],
        }
