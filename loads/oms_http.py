"""Clients of the OMS HTTP API (docs/contracts.md §4), as a trading desk's tools use it.

Each user keeps a few resting limit orders (priced 10 % away from the reference, so they rest),
cancels the oldest when it has enough, now and then sends a one-lot market order, and polls
positions and open orders. The mix, by weight: place resting 4, cancel 3, positions 3, open orders
2, market 1; each user waits 0.1-0.5 s between requests (about 3 requests/s).

Hosts: ``GAMEDAY_HOSTS`` (a JSON list; a game day sets it from ``load.target``), else locust's
``--host``. A 503 (the instance is a standby, a shadow or fenced) or a refused connection sends the
request on to the next host, and the host that last answered is tried first: the way clients of an
active/passive pair reach whichever instance is active (``gameday.workload.FrontDoor`` does the
same). A timeout is not sent again (the host may have acted on it); the next call starts with the
next host. One call with its retries is one request in locust's statistics, so a failure is what the
user saw: no host took the order. A cancel answered 404 (unknown) or 409 (already done) has done its
job (the order is not resting) and counts as a success.

Symbols: ``GAMEDAY_SYMBOLS`` (a JSON list), else BTC-USD and ETH-USD.

By hand:  ``locust -f loads/oms_http.py --host http://127.0.0.1:<oms port>``
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import deque
from typing import Any

from geventhttpclient import HTTPClient
from locust import User, between, task

REFERENCE_PRICES = {"BTC-USD": 60000.0, "ETH-USD": 3000.0, "SOL-USD": 150.0}
RESTING_AWAY = 0.10
"""How far from the reference a resting order is priced (it must not fill)."""
KEEP_RESTING = 4
TIMEOUT_S = 3.0
JSON = {"Content-Type": "application/json"}


class HttpStatusError(Exception):
    """The host answered, with a status the call does not take as success."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:120].decode(errors='replace')}")
        self.status = status


class NoHostAnswered(Exception):
    """Every host refused the call: each one's reason, in host order (the same text whichever was
    tried first)."""

    def __init__(self, reasons: dict[str, Exception]) -> None:
        super().__init__("; ".join(f"{host}: {_short(reasons[host])}" for host in sorted(reasons)))


def _short(error: Exception) -> str:
    return str(error) if isinstance(error, HttpStatusError) else type(error).__name__


class OmsClient:
    """One user's connections to every host. ``call`` reports one locust request per call."""

    def __init__(self, user: User, hosts: list[str]) -> None:
        self._user = user
        self._hosts = hosts
        self._clients = {host: HTTPClient.from_url(host, concurrency=1, connection_timeout=TIMEOUT_S,
                                                   network_timeout=TIMEOUT_S) for host in hosts}
        self._preferred = hosts[0]

    def _order(self) -> list[str]:
        return [self._preferred, *(host for host in self._hosts if host != self._preferred)]

    def _after(self, host: str) -> str:
        return self._hosts[(self._hosts.index(host) + 1) % len(self._hosts)]

    def _attempt(self, host: str, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        response = self._clients[host].request(method, path, body=body, headers=JSON if body else None)
        try:
            return response.status_code, response.read()
        finally:
            response.release()

    def call(self, method: str, path: str, name: str, payload: dict[str, Any] | None = None,
             ok: tuple[int, ...] = (200,)) -> Any:
        body = json.dumps(payload).encode() if payload is not None else b""
        started = time.perf_counter()
        refused: dict[str, Exception] = {}
        error: Exception | None = None
        answer = b""
        for host in self._order():
            try:
                status, answer = self._attempt(host, method, path, body)
            except TimeoutError as timeout:
                # the host may have acted on it: not sent again; the next call starts with the next host
                self._preferred = self._after(host)
                error = timeout
                break
            except Exception as failure:  # refused, reset: the next host may answer
                refused[host] = failure
                continue
            if status == 503:
                refused[host] = HttpStatusError(status, answer)
                continue
            self._preferred = host
            error = None if status in ok else HttpStatusError(status, answer)
            break
        else:
            error = NoHostAnswered(refused)
        self._user.environment.events.request.fire(
            request_type=method, name=name, response_time=(time.perf_counter() - started) * 1000,
            response_length=len(answer), exception=error, context={}, response=None)
        if error is not None:
            return None
        try:
            return json.loads(answer) if answer else None
        except ValueError:
            return None

    def close(self) -> None:
        for client in self._clients.values():
            client.close()


class OmsTrader(User):
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        hosts = json.loads(os.environ.get("GAMEDAY_HOSTS") or "null") or [self.host]
        self.symbols: list[str] = json.loads(os.environ.get("GAMEDAY_SYMBOLS") or "null") or \
            ["BTC-USD", "ETH-USD"]
        self.oms = OmsClient(self, [str(host).rstrip("/") for host in hosts])
        self.resting: deque[str] = deque()

    def on_stop(self) -> None:
        self.oms.close()

    def _order(self, order_type: str) -> dict[str, Any]:
        symbol = random.choice(self.symbols)
        side = random.choice(("buy", "sell"))
        reference = REFERENCE_PRICES.get(symbol, 100.0)
        away = 1 - RESTING_AWAY if side == "buy" else 1 + RESTING_AWAY
        price = round(reference * away, 2) if order_type == "limit" else None
        return {"symbol": symbol, "side": side, "qty": 1, "type": order_type, "price": price, "tif": "day"}

    @task(4)
    def place_resting(self) -> None:
        order = self.oms.call("POST", "/orders", "/orders limit", self._order("limit"), ok=(201,))
        if isinstance(order, dict) and order.get("order_id"):
            self.resting.append(str(order["order_id"]))

    @task(3)
    def cancel_oldest(self) -> None:
        if len(self.resting) < KEEP_RESTING:
            self.place_resting()
            return
        order_id = self.resting.popleft()
        self.oms.call("DELETE", f"/orders/{order_id}", "/orders/{id}", ok=(200, 404, 409))

    @task(3)
    def positions(self) -> None:
        self.oms.call("GET", "/positions", "/positions")

    @task(2)
    def open_orders(self) -> None:
        self.oms.call("GET", "/orders?status=open", "/orders?status=open")

    @task(1)
    def place_market(self) -> None:
        self.oms.call("POST", "/orders", "/orders market", self._order("market"), ok=(201,))
