"""Acme's v2 API mapped onto the SUT contract: what a team writes for gameday instead of changing its OMS.

The target file names it (docs/targets.md, "Adapting your API")::

    oms:
      instances: {oms-primary: "http://127.0.0.1:8201"}
      admin_token_env: ACME_ADMIN_KEY          # sent as X-Api-Key, not as a bearer token
      adapter:
        module: ./adapter.py                   # relative to the target file
        class: AcmeAdapter
        options: {key_header: X-Api-Key}

Each method gets the contract's request and returns the contract's reply (status and body); the
routes table renames the routes, so the operations that differ only by route (``place_raw``, the
contract check's malformed body) need no code. What Acme does not have (flatten, deploy, rollback)
answers 501 and the action fails with that, as on any stack without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gameday.oms_api import ContractApi, Endpoint, OmsOp, Reply, contract_routes

STATUSES = {"PENDING": "pending_new", "WORKING": "new", "PARTIAL": "partially_filled", "FILLED": "filled",
            "CANCELLED": "canceled", "REJECTED": "rejected"}
NOT_ACCEPTING = "NOT_ACCEPTING"  # Acme's 409 for "this node takes no orders": the contract's 503


class AcmeAdapter(ContractApi):
    routes = contract_routes(
        health="GET /v2/ping",
        role="GET /v2/node",
        health_deep="GET /v2/node",
        positions="GET /v2/book",
        open_orders="GET /v2/orders?state=working",
        place="POST /v2/orders",
        cancel="POST /v2/orders/{order_id}/cancel",
        risk_limits="PUT /v2/limits",
        kill_switch="POST /v2/halt",
    )

    def __init__(self, *, key_header: str = "X-Api-Key", modes: Mapping[str, str] | None = None) -> None:
        self._key_header = key_header
        self._modes = {"LEADER": "active", "FOLLOWER": "standby", "DRAINING": "fenced", **(modes or {})}

    # -- reads ------------------------------------------------------------------------------------

    async def health(self, at: Endpoint) -> Reply:
        reply = await self.send(at, OmsOp.HEALTH)
        return reply.with_status(200).with_body({"status": "ok"}) if reply.status == 204 else reply

    async def role(self, at: Endpoint) -> Reply:
        reply = await self.send(at, OmsOp.ROLE)
        if reply.status != 200:
            return reply
        node = reply.json()["node"]
        return reply.with_body({"instance": node["id"], "role": self._role(node)})

    async def deep_health(self, at: Endpoint) -> Reply:
        reply = await self.send(at, OmsOp.HEALTH_DEEP)
        if reply.status != 200:
            return reply
        node = reply.json()["node"]
        ready = bool(node["ready"])
        body = {"role": self._role(node), "ready": ready, "checks": node["checks"]}
        return Reply(200 if ready else 503, body)

    async def positions(self, at: Endpoint) -> Reply:
        reply = await self.send(at, OmsOp.POSITIONS)
        if reply.status != 200:
            return reply
        book = reply.json()
        positions = {holding["ticker"]: holding["net"] for holding in book["holdings"]}
        return reply.with_body({"positions": positions, "fills": book["executions"]})

    async def open_orders(self, at: Endpoint) -> Reply:
        reply = await self.send(at, OmsOp.OPEN_ORDERS)
        if reply.status != 200:
            return reply
        return reply.with_body([_order(order) for order in reply.json()["orders"]])

    # -- orders -----------------------------------------------------------------------------------

    async def place(self, at: Endpoint, order: Mapping[str, Any]) -> Reply:
        price, tif = order.get("price"), order.get("tif") or "day"
        body = {"ticker": order["symbol"], "direction": str(order["side"]).upper(), "quantity": order["qty"],
                "kind": str(order["type"]).upper(), "limitPrice": price, "timeInForce": str(tif).upper()}
        reply = await self.send(at, OmsOp.PLACE, json=body)
        if reply.status == 202:
            return Reply(201, _order(reply.json()["order"]))
        return _failure(reply)

    async def cancel(self, at: Endpoint, order_id: str) -> Reply:
        reply = await self.send(at, OmsOp.CANCEL, order_id=order_id)
        if reply.status == 200:
            return reply.with_body(_order(reply.json()["order"]))
        return _failure(reply)

    # -- admin ------------------------------------------------------------------------------------

    def _key(self, token: str | None) -> dict[str, str] | None:
        return None if token is None else {self._key_header: token}

    async def set_risk_limit(self, at: Endpoint, symbol: str, max_order_qty: int, *,
                             token: str | None) -> Reply:
        reply = await self.send(at, OmsOp.RISK_LIMITS, json={"ticker": symbol, "maxQuantity": max_order_qty},
                                headers=self._key(token))
        return reply.with_body(reply.json()["limit"]) if reply.status == 200 else _failure(reply)

    async def kill_switch(self, at: Endpoint, *, token: str | None, operator: str | None) -> Reply:
        reply = await self.send(at, OmsOp.KILL_SWITCH, json={"by": operator}, headers=self._key(token))
        if reply.status == 200:
            return reply.with_body({"trip": {"reason": "kill-switch", "operator": reply.json()["by"]}})
        return _failure(reply)

    async def flatten(self, at: Endpoint, *, token: str | None, operator: str | None) -> Reply:
        return _not_offered("flatten")

    async def deploy(self, at: Endpoint, version: str, *, token: str | None) -> Reply:
        return _not_offered("deploy")

    async def rollback(self, at: Endpoint, operator: str, *, token: str | None) -> Reply:
        return _not_offered("rollback")

    def _role(self, node: Mapping[str, Any]) -> str:
        return self._modes.get(str(node["mode"]), str(node["mode"]).lower())


def _order(order: Mapping[str, Any]) -> dict[str, Any]:
    """An Acme order as the contract's Order."""
    state = str(order["state"])
    return {"order_id": order["id"], "exchange_order_id": order["venueRef"], "symbol": order["ticker"],
            "side": str(order["direction"]).lower(), "qty": order["quantity"],
            "cum_qty": order["filledQuantity"], "status": STATUSES.get(state, state.lower()),
            "instance": order["node"], "price": order["limitPrice"]}


def _failure(reply: Reply) -> Reply:
    """An Acme error as the contract's: 409 "not accepting" is a 503, 403 a 401; the envelope unwrapped."""
    if not reply.is_json or not isinstance(reply.body, dict) or not isinstance(reply.body.get("error"), dict):
        return reply  # not Acme's envelope (a proxy's page, an empty body): judged as it came
    error = reply.body["error"]
    status = {403: 401}.get(reply.status, reply.status)
    if reply.status == 409 and error.get("code") == NOT_ACCEPTING:
        status = 503
    body = {"error": error.get("message") or error.get("code"), "code": error.get("code")}
    if isinstance(error.get("order"), dict):
        body["order"] = _order(error["order"])
    return Reply(status, body)


def _not_offered(what: str) -> Reply:
    return Reply(501, {"error": f"Acme has no {what}"})
