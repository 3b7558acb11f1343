"""Clients of the venue's WebSocket JSON API (docs/contracts.md §7), as a crypto desk's bots use it.

Each user opens one connection, authenticates with its own account (again on a new connection
when the one it had fails, its next request paying for the reconnect), keeps a few resting limit
orders (10 % away from the reference price, so they rest), cancels the oldest when it has enough,
and asks for its open orders and a ping now and then. By weight: place 4, cancel 3, open orders 2,
ping 1; each user waits 0.1-0.5 s between requests. Each request is one locust request named by
its ``op`` (``WS place``), timed from send to its answer; an ``error`` frame is a failure.
Execution events pushed between requests are read and skipped.

Host: the API's URL (``ws://127.0.0.1:<ws port>/``; a game day gives it with ``load.url``).
Accounts: ``VENUE_WS_ACCOUNTS``, ``ACCOUNT:API_KEY`` pairs separated by commas; an account is one
session at a time, so user *n* takes the *n*-th pair (give at least as many as users; a user
without one stops). Symbols: ``GAMEDAY_SYMBOLS`` (a JSON list), else BTC-USD and ETH-USD.

By hand (a venue started with ``--ws-port 9100 --ws-account a1:k1 --ws-account a2:k2``)::

    VENUE_WS_ACCOUNTS=a1:k1,a2:k2 locust -f loads/venue_ws.py --host ws://127.0.0.1:9100/ -u 2
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from collections import deque
from typing import Any

import websocket  # websocket-client, installed with locust (python-socketio[client])
from locust import User, between, task
from locust.exception import StopUser

REFERENCE_PRICES = {"BTC-USD": 60000.0, "ETH-USD": 3000.0, "SOL-USD": 150.0}
RESTING_AWAY = 0.10
KEEP_RESTING = 4
TIMEOUT_S = 5.0
_NEXT_ACCOUNT = itertools.count()


class WsError(Exception):
    """The venue answered with an ``error`` frame."""


def _accounts() -> list[tuple[str, str]]:
    pairs = [pair.strip() for pair in os.environ.get("VENUE_WS_ACCOUNTS", "").split(",") if pair.strip()]
    return [(account, key) for account, _, key in (pair.partition(":") for pair in pairs)]


class VenueTrader(User):
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        accounts = _accounts()
        number = next(_NEXT_ACCOUNT)
        if number >= len(accounts):
            raise StopUser()  # one session per account: no account left for this user
        self.account, self.api_key = accounts[number]
        self.symbols: list[str] = json.loads(os.environ.get("GAMEDAY_SYMBOLS") or "null") or \
            ["BTC-USD", "ETH-USD"]
        self.ids = itertools.count(1)
        self.resting: deque[str] = deque()
        self.ws: websocket.WebSocket | None = None

    def on_stop(self) -> None:
        self._drop()

    def _drop(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def _exchange(self, ws: websocket.WebSocket, op: str, **fields: Any) -> dict[str, Any]:
        request_id = next(self.ids)
        ws.send(json.dumps({"op": op, "id": request_id, **fields}))
        while True:
            frame = json.loads(ws.recv())
            if frame.get("type") in ("result", "error") and frame.get("id") == request_id:
                if frame["type"] == "error":
                    raise WsError(f"{frame.get('code')}: {frame.get('message')}")
                return dict(frame)

    def _connected(self) -> websocket.WebSocket:
        if self.ws is None:
            ws = websocket.create_connection(str(self.host), timeout=TIMEOUT_S)
            try:
                self._exchange(ws, "auth", account=self.account, api_key=self.api_key)
            except Exception:
                ws.close()
                raise
            self.ws = ws
        return self.ws

    def request(self, op: str, **fields: Any) -> dict[str, Any] | None:
        started = time.perf_counter()
        answer: dict[str, Any] | None = None
        error: Exception | None = None
        try:
            answer = self._exchange(self._connected(), op, **fields)
        except WsError as refused:  # the venue answered: the connection is fine
            error = refused
        except Exception as failure:  # the connection dropped or timed out: a new one next time
            error = failure
            self._drop()
        self.environment.events.request.fire(
            request_type="WS", name=op, response_time=(time.perf_counter() - started) * 1000,
            response_length=0, exception=error, context={"account": self.account}, response=None)
        return None if error is not None else answer

    @task(4)
    def place(self) -> None:
        symbol = random.choice(self.symbols)
        side = random.choice(("buy", "sell"))
        away = 1 - RESTING_AWAY if side == "buy" else 1 + RESTING_AWAY
        client_order_id = f"lw-{uuid.uuid4().hex[:20]}"
        answer = self.request("place", client_order_id=client_order_id, symbol=symbol, side=side,
                              type="limit", qty=1, price=round(REFERENCE_PRICES.get(symbol, 100.0) * away, 2))
        if answer is not None:
            self.resting.append(client_order_id)

    @task(3)
    def cancel(self) -> None:
        if len(self.resting) < KEEP_RESTING:
            self.place()
            return
        self.request("cancel", client_order_id=self.resting.popleft())

    @task(2)
    def open_orders(self) -> None:
        self.request("open_orders")

    @task(1)
    def ping(self) -> None:
        self.request("ping")
