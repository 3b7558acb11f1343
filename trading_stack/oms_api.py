"""The OMS behind the HTTP API (docs/contracts.md §4, docs/deploy.md §2): the client routes and
the admin routes, answered from one :class:`~trading_stack.oms.Oms`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import asyncpg
from aiohttp import web

from trading_stack.admin_models import LaunchRequest, RoleRequest, UnwindRequest
from trading_stack.db_sync import save_risk_limit
from trading_stack.deploy.actions import InstanceRole
from trading_stack.gateway import PlaceResult
from trading_stack.http_api import ApiResult, build_app
from trading_stack.models import NewOrderRequest, OrdType, Side
from trading_stack.oms_metrics import outcome_of
from trading_stack.order_log import log_request
from trading_stack.risk import RiskLimitUpdate
from trading_stack.roles import Promotion, Role
from trading_stack.venue_sync import DB_TIMEOUT_S

if TYPE_CHECKING:
    from trading_stack.oms import Oms

ROLE_POLL_S = 0.05


def _result(result: PlaceResult, role: Role) -> ApiResult:
    if result.status in (200, 201) and result.order is not None:
        return ApiResult(result.status, result.order.api_dict())
    if result.status == 503:
        return ApiResult(503, {"error": "not active", "role": role.value, "detail": result.error})
    body: dict[str, Any] = {"error": result.error}
    if result.text:
        body["text"] = result.text
    if result.order is not None:
        body["order"] = result.order.api_dict()
    return ApiResult(result.status, body)


def _conflict(error: str, role: Role) -> ApiResult:
    return ApiResult(409, {"error": error, "role": role.value})


class OmsService:
    """Implements :class:`~trading_stack.http_api.OmsApi` for one OMS instance."""

    def __init__(self, oms: Oms) -> None:
        self._oms = oms

    def app(self) -> web.Application:
        return build_app(self, self._oms.config.admin_token, self._oms.registry)

    # -- reads -------------------------------------------------------------------------------
    def role_info(self) -> dict[str, Any]:
        oms = self._oms
        return {"instance": oms.instance, "role": oms.roles.role.value, "epoch": oms.epoch,
                "version": oms.book.version.value, "promotable": oms.promotable()}

    def deep_health(self) -> ApiResult:
        oms = self._oms
        checks = oms.checks()
        ready = oms.ready(checks) or oms.has_shallow_health
        body = {"role": oms.roles.role.value, "ready": ready, "checks": checks,
                "loop_lag_ms": oms.loop_lag.summary().as_dict(), "store": oms.store.backlog_stats().as_dict()}
        if oms.market_data is not None:  # shown, not judged: feed loss is the feed breaker's, not failover's
            body["market_data"] = oms.market_data.describe()
        return ApiResult(200 if ready else 503, body)

    def positions_body(self) -> dict[str, Any]:
        return {"positions": self._oms.book.positions, "fills": self._oms.book.fill_count}

    def orders_body(self, status: str | None) -> list[dict[str, object]]:
        orders = self._oms.book.orders()
        if status == "open":
            orders = [o for o in orders if o.status.is_open]
        elif status:
            orders = [o for o in orders if o.status.value == status]
        return [o.api_dict() for o in orders]

    # -- client orders -------------------------------------------------------------------------
    async def place(self, request: NewOrderRequest) -> ApiResult:
        started = time.monotonic()
        result = await self._admit(request)
        order = result.body if result.status == 201 else {}
        self._oms.metrics.answered(result.status, result.body, started, order.get("order_id"),
                                   bool(order.get("cum_qty")))
        if result.status >= 300:
            self._log_refused(request, result)
        return result

    def _log_refused(self, request: NewOrderRequest, result: ApiResult) -> None:
        """``order_refused`` (by a limit or rule, or not sent) or ``order_failed`` (not answered)."""
        error = result.body.get("error")
        outcome, _reason = outcome_of(result.status, error)
        event = {"accepted": "order_accepted", "rejected": "order_refused", "failed": "order_failed"}[outcome]
        detail = {"status": result.status, "error": error, "detail": result.body.get("detail"),
                  "limit": self._oms.risk.limit_of(request.symbol)}
        log_request(event, f"order answered {result.status}: {error}", request, detail=detail,
                    level=logging.WARNING if outcome == "failed" else logging.INFO)

    async def _admit(self, request: NewOrderRequest) -> ApiResult:
        oms = self._oms
        halted = oms.breaker.refusal(request, oms.book.positions.get(request.symbol, 0))
        if halted is not None:
            return halted
        if oms.market_data is None or oms.refusal() is not None:
            return await self._place(request)
        return await oms.market_data.place(request, self._place)  # priced off the selected feed, or refused

    async def _place(self, request: NewOrderRequest) -> ApiResult:
        oms = self._oms
        refusal = oms.refusal()
        if refusal is not None:
            return refusal
        oms.metrics.last_qty[request.symbol] = request.qty
        breach = oms.risk.refusal(request)
        if breach is not None:
            return ApiResult(422, {"error": "risk limit", "detail": breach})
        venue_state = oms.venue_halts.refusal(request)  # a halt or band: the venue's state, not sent
        if venue_state is not None:
            return venue_state
        log_request("order_accepted", "risk checks passed", request,
                    detail={"limit": oms.risk.limit_of(request.symbol)})
        placed = await oms.venue_halts.place(request, lambda: oms.place(request))
        return _result(placed, oms.roles.role)

    async def cancel(self, order_id: str) -> ApiResult:
        oms = self._oms
        order = oms.book.get(order_id)
        if order is None:
            return ApiResult(404, {"error": "unknown order", "order_id": order_id})
        if order.status.is_done:
            return ApiResult(409, {"error": "order already done", "order": order.api_dict()})
        refusal = oms.refusal()
        if refusal is not None:
            return refusal
        return _result(await oms.gateway.cancel(order), oms.roles.role)

    # -- operator -------------------------------------------------------------------------------
    def promote(self, reason: str) -> ApiResult:
        return self._oms.promote(reason)

    async def kill_switch(self, operator: str) -> ApiResult:
        return await self._oms.breaker.kill(operator)

    async def rearm(self, operator: str) -> ApiResult:
        """Re-arm every tripped breaker: the feed breaker (only with a usable feed), then the PnL one."""
        oms = self._oms
        feeds = oms.market_data
        if feeds is None or not feeds.tripped:
            return await oms.breaker.rearm(operator)
        result = await feeds.rearm(operator)
        if result.status != 200 or oms.breaker.trip is None:
            return result
        return await oms.breaker.rearm(operator)

    async def set_risk_limit(self, update: RiskLimitUpdate) -> ApiResult:
        """Persist first (the database is where a successor finds it), then enforce."""
        oms = self._oms
        try:
            await save_risk_limit(oms.config.database_dsn, update.symbol, update.max_order_qty, oms.instance,
                                  DB_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError) as err:
            detail = f"{type(err).__name__}: {err}"
            return ApiResult(503, {"error": "risk limit not persisted", "detail": detail})
        oms.risk.set(update.symbol, update.max_order_qty)
        return ApiResult(200, {"risk_limits": oms.risk.as_dict()})

    async def flatten(self) -> ApiResult:
        refusal = self._oms.refusal()
        if refusal is not None:
            return refusal
        requests = [
            NewOrderRequest(symbol=symbol, side=Side.SELL if qty > 0 else Side.BUY, qty=abs(qty),
                            type=OrdType.MARKET)
            for symbol, qty in sorted(self._oms.book.positions.items())
        ]
        results = await asyncio.gather(*(self._place(r) for r in requests))
        return ApiResult(200, {
            "orders": [r.body for r in results if r.status == 201],
            "failed": [{"status": r.status, **r.body} for r in results if r.status != 201],
        })

    # -- deploy ---------------------------------------------------------------------------------
    def launch(self, request: LaunchRequest) -> ApiResult:
        oms = self._oms
        if oms.roles.role is not Role.DORMANT or oms.launched:
            return ApiResult(409, {"error": "already launched", "role": oms.roles.role.value})
        oms.book.use_version(request.version)
        oms.launch(active=request.role is InstanceRole.ACTIVE, own_lease=request.own_lease)
        return ApiResult(202, {"status": "launching", "role": request.role.value,
                               "version": request.version.value})

    async def set_role(self, request: RoleRequest) -> ApiResult:
        oms = self._oms
        role = oms.roles.role
        if request.role is InstanceRole.PARKED:
            if role not in (Role.ACTIVE, Role.SHADOW, Role.PARKED):
                return _conflict(f"a {role.value} instance cannot be parked", role)
            await oms.park()
            return ApiResult(200, {"role": oms.roles.role.value, "epoch": oms.epoch})
        kinds = {Role.SHADOW: Promotion.CUTOVER, Role.PARKED: Promotion.RESUME}
        if role is not Role.ACTIVE:
            if role not in kinds:
                return _conflict(f"a {role.value} instance cannot be activated", role)
            oms.promote(f"deploy: {role.value} -> active", kinds[role])
        return await self._await_ready(Role.ACTIVE)

    async def _await_ready(self, role: Role) -> ApiResult:
        oms = self._oms
        bound = oms.config.role_change_timeout_s
        try:
            async with asyncio.timeout(bound):
                while True:  # readiness has several inputs (lease, session, reconciliation): poll it
                    if oms.roles.role is role and oms.ready(oms.checks()):
                        break
                    await asyncio.sleep(ROLE_POLL_S)
        except TimeoutError:
            error = f"not {role.value} and ready after {bound}s"
            return ApiResult(504, {"error": error, "role": oms.roles.role.value})
        return ApiResult(200, {"role": oms.roles.role.value, "epoch": oms.epoch})

    async def restore_positions(self) -> ApiResult:
        oms = self._oms
        if oms.roles.role not in (Role.PARKED, Role.ACTIVE):
            return ApiResult(409, {"error": f"a {oms.roles.role.value} instance has no positions to restore"})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(2.0, 3 * oms.config.order_ack_timeout_s)):
                await oms.ensure_session()
        restored = await oms.sync.restore_positions()
        if restored is None:
            return ApiResult(503, {"error": "neither the database nor the venue answered"})
        oms.positions_restored = True
        return ApiResult(200, {"positions": restored.positions, "source": restored.source})

    async def unwind(self, request: UnwindRequest) -> ApiResult:
        """A rollback's last step before blue takes traffic (seed 003): cancel all, flatten."""
        oms = self._oms
        if oms.roles.role is not Role.ACTIVE:
            return _conflict(f"a {oms.roles.role.value} instance cannot unwind", oms.roles.role)
        try:
            async with asyncio.timeout(request.timeout_s):
                await oms.breaker.unwind()
        except TimeoutError:
            return ApiResult(504, {"error": f"not flat with no open order after {request.timeout_s}s",
                                   "positions": oms.book.positions, "open_orders": len(oms.open_orders())})
        return ApiResult(200, {"positions": oms.book.positions, "open_orders": 0})

    def stop(self) -> ApiResult:
        self._oms.request_stop()
        return ApiResult(202, {"status": "stopping", "role": self._oms.roles.role.value})
