"""Clients that send every order to one proxy (the stack's front door) instead of picking an instance."""

from __future__ import annotations

import dataclasses

import aiohttp

from gameday.workload import FrontDoor, OrderRequest, Placement

__all__ = ["FRONT_DOOR", "ProxiedDoor"]

FRONT_DOOR = "front-door"


class ProxiedDoor(FrontDoor):
    """Every order to the front-door proxy; the instance that placed it is read off its answer.

    Cancels go to the proxy too (it routes them to the instance that placed the order).
    """

    def __init__(self, url: str, session: aiohttp.ClientSession, request_timeout_s: float = 3.0) -> None:
        super().__init__({FRONT_DOOR: url}, session, request_timeout_s)

    async def place(self, request: OrderRequest) -> Placement:
        placement = await super().place(request)
        instance = placement.body.get("instance") if placement.status == "ok" else None
        return dataclasses.replace(placement, instance=instance) if isinstance(instance, str) else placement

    async def cancel(self, instance: str, order_id: str) -> int:
        return await super().cancel(FRONT_DOOR, order_id)
