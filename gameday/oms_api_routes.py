"""The OMS operations the harness uses, and the routes the SUT contract gives them (docs/contracts.md §4).

Pure values, no network: a target file's ``oms.adapter.routes`` is validated against them without
loading any HTTP machinery. :mod:`gameday.oms_api` performs the operations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from urllib.parse import quote

__all__ = ["CONTRACT_ROUTES", "METHODS", "OmsOp", "Route", "contract_routes"]

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class OmsOp(StrEnum):
    """One thing the harness asks of an OMS instance (or of the deployer, for deploy and rollback)."""

    ROLE = "role"
    HEALTH = "health"
    HEALTH_DEEP = "health_deep"
    POSITIONS = "positions"
    OPEN_ORDERS = "open_orders"
    PLACE = "place"
    CANCEL = "cancel"
    KILL_SWITCH = "kill_switch"
    FLATTEN = "flatten"
    REARM = "rearm"
    RISK_LIMITS = "risk_limits"
    DEPLOY = "deploy"
    ROLLBACK = "rollback"


_PARAMETERS = {OmsOp.CANCEL: frozenset({"order_id"})}
"""The placeholders each operation's path must carry (the others carry none)."""


@dataclass(frozen=True, slots=True)
class Route:
    """An HTTP method and a path (with its query, if any) below an instance's base URL."""

    method: str
    path: str

    @classmethod
    def parse(cls, text: str, op: OmsOp | None = None) -> Route:
        """``"GET /api/v2/book"``; with ``op``, the path's placeholders must be the ones ``op`` fills in
        (``{order_id}`` for ``cancel``). Raises ``ValueError`` naming what is wrong."""
        method, _, path = text.strip().partition(" ")
        path = path.strip()
        if method not in METHODS or not path.startswith("/") or any(c.isspace() for c in path):
            raise ValueError(f'expected "METHOD /path" with METHOD one of {", ".join(sorted(METHODS))}, '
                             f"got {text!r}")
        if op is not None:
            wanted = _PARAMETERS.get(op, frozenset())
            found = set(_PLACEHOLDER.findall(path))
            if found != wanted or path.count("{") != len(wanted):
                need = ", ".join(f"{{{name}}}" for name in sorted(wanted)) or "no placeholder"
                raise ValueError(f"the {op.value} route takes {need}, got {text!r}")
        return cls(method, path)

    def path_for(self, **params: str) -> str:
        """The path with each ``{name}`` filled in, percent-encoded (an order id may hold any character)."""
        if not params:
            return self.path
        return self.path.format_map({name: quote(value, safe="") for name, value in params.items()})

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


CONTRACT_ROUTES: Mapping[OmsOp, Route] = MappingProxyType({
    OmsOp.ROLE: Route("GET", "/role"),
    OmsOp.HEALTH: Route("GET", "/health"),
    OmsOp.HEALTH_DEEP: Route("GET", "/health/deep"),
    OmsOp.POSITIONS: Route("GET", "/positions"),
    OmsOp.OPEN_ORDERS: Route("GET", "/orders?status=open"),
    OmsOp.PLACE: Route("POST", "/orders"),
    OmsOp.CANCEL: Route("DELETE", "/orders/{order_id}"),
    OmsOp.KILL_SWITCH: Route("POST", "/admin/kill-switch"),
    OmsOp.FLATTEN: Route("POST", "/admin/flatten"),
    OmsOp.REARM: Route("POST", "/admin/rearm"),
    OmsOp.RISK_LIMITS: Route("PUT", "/admin/risk-limits"),
    OmsOp.DEPLOY: Route("POST", "/deploy"),
    OmsOp.ROLLBACK: Route("POST", "/rollback"),
})
"""The SUT contract's route for each operation."""


def contract_routes(base: Mapping[OmsOp, Route] = CONTRACT_ROUTES, **renamed: str) -> Mapping[OmsOp, Route]:
    """``base`` with some routes renamed: ``contract_routes(positions="GET /api/v2/book")``."""
    routes = dict(base)
    for name, text in renamed.items():
        op = OmsOp(name)
        routes[op] = Route.parse(text, op)
    return MappingProxyType(routes)
