"""Carries the deployer's actions out over HTTP: the OMS admin API and the front door's (docs/deploy.md §4).

Every call is bounded by a timeout; an answer other than 2xx fails the action with the body as
the error, and so does a call that could not be made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from trading_stack.deploy.actions import (
    ActionOutcome,
    DeployAction,
    HoldTraffic,
    InstanceRole,
    Launch,
    RestorePositions,
    SetRole,
    SetUpstreams,
    StopInstance,
    Unwind,
)

__all__ = ["HttpExecutor"]

LAUNCH_POLL_S = 0.1


class HttpExecutor:
    def __init__(self, http: aiohttp.ClientSession, oms_urls: dict[str, str], front_door_url: str, token: str,
                 timeout_s: float) -> None:
        self._http = http
        self._oms = {name: url.rstrip("/") for name, url in oms_urls.items()}
        self._front_door = front_door_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout_s = timeout_s

    async def execute(self, action: DeployAction) -> ActionOutcome:
        handlers: dict[type[Any], Callable[[Any], Any]] = {
            Launch: self._launch, SetRole: self._set_role, HoldTraffic: self._hold,
            SetUpstreams: self._set_upstreams, RestorePositions: self._restore, StopInstance: self._stop,
            Unwind: self._unwind,
        }
        bound = max(self._timeout_s, action.timeout_s + 1) if isinstance(action, Unwind) else self._timeout_s
        try:
            async with asyncio.timeout(bound):
                outcome: ActionOutcome = await handlers[type(action)](action)
                return outcome
        except TimeoutError:
            return ActionOutcome.failed(f"{action.kind} timed out after {bound}s")
        except aiohttp.ClientError as err:
            return ActionOutcome.failed(f"{action.kind}: {type(err).__name__}: {err}")

    async def _call(self, method: str, url: str, body: Any = None) -> tuple[int, Any]:
        async with self._http.request(method, url, json=body, headers=self._headers) as response:
            text = await response.text()
            try:
                return response.status, await response.json(content_type=None)
            except ValueError:
                return response.status, text

    async def _expect_2xx(self, method: str, url: str, body: Any = None) -> ActionOutcome:
        status, answer = await self._call(method, url, body)
        return ActionOutcome.done() if 200 <= status < 300 else ActionOutcome.failed(f"{status}: {answer}")

    def _url(self, instance: str, path: str) -> str:
        return f"{self._oms[instance]}{path}"

    async def _launch(self, action: Launch) -> ActionOutcome:
        body = {"version": action.version.value, "role": action.role.value, "own_lease": action.own_lease}
        outcome = await self._expect_2xx("POST", self._url(action.instance, "/admin/launch"), body)
        if not outcome.ok or action.role is not InstanceRole.ACTIVE:
            return outcome
        # a canary takes order flow right after: wait until it can trade (bounded by the timeout)
        while True:
            status, _ = await self._call("GET", self._url(action.instance, "/health/deep"))
            if status == 200:
                return outcome
            await asyncio.sleep(LAUNCH_POLL_S)

    async def _set_role(self, action: SetRole) -> ActionOutcome:
        body = {"role": action.role.value}
        return await self._expect_2xx("POST", self._url(action.instance, "/admin/role"), body)

    async def _restore(self, action: RestorePositions) -> ActionOutcome:
        return await self._expect_2xx("POST", self._url(action.instance, "/admin/restore-positions"))

    async def _unwind(self, action: Unwind) -> ActionOutcome:
        body = {"timeout_s": action.timeout_s}
        return await self._expect_2xx("POST", self._url(action.instance, "/admin/unwind"), body)

    async def _stop(self, action: StopInstance) -> ActionOutcome:
        return await self._expect_2xx("POST", self._url(action.instance, "/admin/stop"))

    async def _hold(self, action: HoldTraffic) -> ActionOutcome:
        return await self._expect_2xx("POST", f"{self._front_door}/admin/hold", {"hold_s": action.hold_s})

    async def _set_upstreams(self, action: SetUpstreams) -> ActionOutcome:
        body = {"upstreams": [u.model_dump() for u in action.upstreams]}
        return await self._expect_2xx("PUT", f"{self._front_door}/admin/upstreams", body)
