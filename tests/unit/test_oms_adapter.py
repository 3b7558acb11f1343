"""The OMS adapter hook (gameday/oms_api.py): loaded only from the target file, refused with one located
line when it cannot be; the contract's own API sends what the harness always sent; an adapter that
raises at run time is a recorded failure, never a crash."""

from __future__ import annotations

import argparse
import json
import textwrap
import time
from io import StringIO
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rich.console import Console

from gameday.contract.checks import Outcome
from gameday.contract.cli import add_contract_parser, cmd_contract
from gameday.contract.instance import AdminToken
from gameday.contract.run import CheckOptions, check_contract
from gameday.errors import TargetFileError
from gameday.history import History, OpKind, OpType
from gameday.oms_api import DEFAULT_API, ContractApi, Endpoint, Reply
from gameday.oms_api_routes import CONTRACT_ROUTES, OmsOp, Route
from gameday.operator import Operator, OperatorEndpoints, operator_endpoints
from gameday.probes import capture_final_state, sample_roles
from gameday.scenario.actions import KillSwitchAction, RiskLimitAction
from gameday.scenario.duration import Duration
from gameday.scenario.stop_spec import SafetyStep
from gameday.stack.external import ExternalStack
from gameday.stack.rundir import RunDir
from gameday.stack.settings import StackEndpoints, StackSettings
from gameday.target_file import TargetFile, load_target_file
from gameday.workload import FrontDoor, OrderRequest
from tests.loopback_http import serving

TOKEN = "s3cret"
ADAPTER = '''\
from gameday.oms_api import ContractApi, OmsOp, contract_routes


class NotAnAdapter:
    pass


class Renamed(ContractApi):
    routes = contract_routes(positions="GET /v2/book")

    def __init__(self, *, prefix="", fail=False):
        if fail:
            raise ValueError("prefix must start with /")
        self.prefix = prefix


class Blocking(ContractApi):
    def positions(self, at):
        return None
'''
HEAD = """\
name: t
oms:
  instances: {oms-primary: "http://127.0.0.1:9"}
  adapter:
"""
VENUE = 'venue: {admin_url: "http://127.0.0.1:9"}\n'


def _target(tmp_path: Path, adapter: str, *, code: str = ADAPTER, name: str = "adapter.py") -> Path:
    (tmp_path / "adapters").mkdir(exist_ok=True)
    (tmp_path / "adapters" / name).write_text(code)
    path = tmp_path / "target.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(adapter), "    ") + VENUE)
    return path


def _refused(path: Path) -> tuple[str, int | None, str, str]:
    with pytest.raises(TargetFileError) as raised:
        load_target_file(path)
    [problem] = raised.value.problems
    assert "\n" not in str(raised.value)
    assert str(path) in str(raised.value)
    return problem.yaml_path, problem.line, problem.message, str(raised.value)


# -- loading ---------------------------------------------------------------------------------------


def test_an_adapter_file_is_loaded_relative_to_the_target_file_with_its_options(tmp_path: Path) -> None:
    path = _target(tmp_path, """\
        module: ./adapters/adapter.py
        class: Renamed
        options: {prefix: /api}
        routes: {cancel: "POST /v2/orders/{order_id}/cancel"}
    """)
    api = load_target_file(path).oms_api

    assert isinstance(api, ContractApi)
    assert type(api).__name__ == "Renamed"
    assert api.prefix == "/api"  # type: ignore[attr-defined]
    assert api.routes[OmsOp.POSITIONS] == Route("GET", "/v2/book")  # the class's rename
    assert api.routes[OmsOp.CANCEL] == Route("POST", "/v2/orders/{order_id}/cancel")  # the file's
    assert api.routes[OmsOp.ROLE] == CONTRACT_ROUTES[OmsOp.ROLE]
    assert type(api).routes[OmsOp.CANCEL] == CONTRACT_ROUTES[OmsOp.CANCEL]  # the class is untouched


def test_the_stack_a_target_file_describes_speaks_through_its_adapter(tmp_path: Path) -> None:
    target = load_target_file(_target(tmp_path, "module: adapters/adapter.py\nclass: Renamed\n"))
    stack = ExternalStack(target, StackSettings(run_dir=RunDir(tmp_path, "s"), seed=1), environ={})

    assert stack.endpoints.oms_api is target.oms_api
    assert stack.endpoints.oms == {"oms-primary": "http://127.0.0.1:9"}
    assert stack.describe()["target"]["oms_adapter"] == "Renamed"
    assert operator_endpoints(stack).api is target.oms_api


def test_a_stack_that_names_no_adapter_speaks_the_contract(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text('name: t\noms:\n  instances: {oms-primary: "http://127.0.0.1:9"}\n' + VENUE)
    settings = StackSettings(run_dir=RunDir(tmp_path, "s"), seed=1)
    stack = ExternalStack(load_target_file(path), settings, environ={})
    assert stack.endpoints.oms_api is DEFAULT_API
    assert StackEndpoints().oms_api is DEFAULT_API


@pytest.mark.parametrize(("adapter", "where", "line", "expected"), [
    ("module: ./adapters/missing.py\nclass: Renamed\n", "oms.adapter.module", 5, "is not a file"),
    ("module: no_such_gameday_adapter_module\nclass: Renamed\n", "oms.adapter.module", 5,
     "no module named 'no_such_gameday_adapter_module'"),
    ("module: ./adapters/adapter.py\nclass: Missing\n", "oms.adapter.class", 6,
     "got 'Missing' (it defines Blocking, Renamed)"),
    ("module: ./adapters/adapter.py\nclass: NotAnAdapter\n", "oms.adapter.class", 6,
     "expected a subclass of gameday.oms_api.ContractApi, got 'NotAnAdapter', class NotAnAdapter"),
    ("module: ./adapters/adapter.py\nclass: Blocking\n", "oms.adapter.class", 6,
     "expected Blocking.positions to be an async def, got a function"),
    ("module: ./adapters/adapter.py\nclass: Renamed\noptions: {fail: true}\n", "oms.adapter.options", 7,
     "Renamed(**options) raising ValueError: prefix must start with /"),
    ("module: ./adapters/adapter.py\nclass: Renamed\noptions: {typo: 1}\n", "oms.adapter.options", 7,
     "raising TypeError"),
    ("module: ./adapters/adapter.py\n", "oms.adapter", 5, "expected module and class together"),
    ("routes: {positions: FETCH /v2/book}\n", "oms.adapter.routes.positions", 5,
     'expected "METHOD /path"'),
    ("routes: {cancel: DELETE /orders}\n", "oms.adapter.routes.cancel", 5,
     "the cancel route takes {order_id}"),
])
def test_an_adapter_that_cannot_be_loaded_is_one_located_line(tmp_path: Path, adapter: str, where: str,
                                                              line: int, expected: str) -> None:
    yaml_path, at_line, message, whole = _refused(_target(tmp_path, adapter))

    assert (yaml_path, at_line) == (where, line), whole
    assert expected in message, whole
    assert whole.startswith(f"invalid target file {tmp_path / 'target.yaml'}:{line}: {where}: ")


def test_an_adapter_module_that_raises_on_import_is_refused_with_the_error(tmp_path: Path) -> None:
    for code, expected in (("raise RuntimeError('no\\nconfig')", "RuntimeError: no config"),
                           ("def broken(:\n", "SyntaxError"), ("import sys; sys.exit(3)", "SystemExit: 3")):
        path = _target(tmp_path, "module: adapters/bad.py\nclass: Renamed\n", code=code, name="bad.py")
        yaml_path, _, message, _ = _refused(path)
        assert yaml_path == "oms.adapter.module"
        assert expected in message


def test_an_unknown_operation_in_routes_names_the_operations(tmp_path: Path) -> None:
    yaml_path, _, message, _ = _refused(_target(tmp_path, "routes: {book: GET /v2/book}\n"))
    assert yaml_path.startswith("oms.adapter.routes")
    assert "expected 'role', 'health', 'health_deep', 'positions', 'open_orders'" in message


def test_the_contract_check_refuses_a_bad_adapter_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = _target(tmp_path, "module: ./adapters/adapter.py\nclass: Missing\n")
    parser, buffer = argparse.ArgumentParser(prog="gameday"), StringIO()
    add_contract_parser(parser.add_subparsers(dest="command", required=True))
    code = cmd_contract(parser.parse_args(["contract", "check", "--target", str(path)]),
                        Console(file=buffer, width=400, color_system=None))
    out = buffer.getvalue()

    assert code == 2
    assert f"{path}:6: oms.adapter.class: expected the name of a class" in out
    assert "Traceback" not in out


def test_gameday_run_refuses_a_bad_adapter_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from gameday.cli import main

    monkeypatch.setenv("COLUMNS", "400")
    path = _target(tmp_path, "module: ./adapters/missing.py\nclass: Renamed\n")
    with pytest.raises(SystemExit) as exited:
        main(["run", "--target", str(path), "--reports", str(tmp_path / "r"),
              str(Path(__file__).parents[2] / "scenarios" / "failover-primary-crash.yaml")])
    out = capsys.readouterr().out
    assert exited.value.code == 2
    assert f"{path}:5: oms.adapter.module: expected a Python file" in out
    assert "Traceback" not in out
    assert not (tmp_path / "r").exists()  # nothing ran


# -- the contract's own API: the same requests as ever ---------------------------------------------


class Recorder:
    """An OMS that conforms and records each request: method, path and query, body, the two headers."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any, str | None, str | None]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"null")
        self.requests.append((request.method, request.raw_path, body, request.headers.get("Authorization"),
                              request.headers.get("X-Operator")))
        answers: dict[tuple[str, str], tuple[int, Any]] = {
            ("GET", "/role"): (200, {"instance": "oms-primary", "role": "active"}),
            ("GET", "/health/deep"): (200, {"role": "active", "ready": True}),
            ("GET", "/positions"): (200, {"positions": {"BTC-USD": 2}, "fills": 1}),
            ("GET", "/orders"): (200, [{"order_id": "o/1"}]),
            ("POST", "/orders"): (201, {"order_id": "o-2", "instance": "oms-primary"}),
            ("GET", "/ledger"): (200, {"orders": [], "fills": []}),
        }
        status, answer = answers.get((request.method, request.path), (200, {"ok": True}))
        return web.json_response(answer, status=status)


async def test_the_contract_api_sends_the_routes_bodies_and_headers_the_harness_always_sent(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gameday.operator.UNTIL_FLAT_S", 0.0)  # one look after the flatten, then give up
    recorder = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    history = History()
    async with serving(app) as url, aiohttp.ClientSession() as session:
        urls = {"oms-primary": url}
        assert await sample_roles(session, urls) == {"oms-primary": {"role": "active", "deep_ok": True}}
        door = FrontDoor(urls, session)
        placed = await door.place(OrderRequest("BTC-USD", "buy", 1, "limit", 30000.0))
        assert await door.cancel("oms-primary", "o-2") == 200
        operator = Operator(session, urls, TOKEN, history)
        await operator.play([RiskLimitAction(at=Duration(0), symbol="BTC-USD", max_order_qty=5),
                             KillSwitchAction(at=Duration(0), target="oms-primary", operator="bob")],
                            started_ns=time.monotonic_ns())
        await operator.safety([SafetyStep.CANCEL_ALL, SafetyStep.FLATTEN], "stopped")
        await capture_final_state(session, urls, url, history, quiet_s=0.01, settle_timeout_s=0.1)

    assert placed.status == "ok"
    bearer = f"Bearer {TOKEN}"
    order = {"symbol": "BTC-USD", "side": "buy", "qty": 1, "type": "limit", "price": 30000.0, "tif": "day"}
    sampled = ("/role", "/health/deep")  # read together: either may arrive first
    venue = ("/ledger?market_data=false",)  # the same fake serves the venue's ledger
    assert [request for request in recorder.requests if request[1] not in (*sampled, *venue)] == [
        ("POST", "/orders", order, None, None), ("DELETE", "/orders/o-2", None, None, None),
        ("PUT", "/admin/risk-limits", {"symbol": "BTC-USD", "max_order_qty": 5}, bearer, None),
        ("POST", "/admin/kill-switch", {}, bearer, "bob"),
        ("GET", "/orders?status=open", None, None, None), ("DELETE", "/orders/o%2F1", None, None, None),
        ("POST", "/admin/flatten", {}, bearer, "gameday-stop"),
        ("GET", "/orders?status=open", None, None, None), ("GET", "/positions", None, None, None),
        ("GET", "/positions", None, None, None), ("GET", "/orders?status=open", None, None, None)]
    reads = [request for request in recorder.requests if request[1] in sampled]
    assert sorted(reads) == sorted([("GET", path, None, None, None) for path in sampled] * 5
                                   + [("GET", "/role", None, None, None)])  # 5 samples, the final state
    final = next(op for op in history.ops if op.f == "final-state")
    assert final.value["instances"]["oms-primary"] == {"role": "active", "positions": {"BTC-USD": 2},
                                                        "open_orders": [{"order_id": "o/1"}]}


# -- an adapter that raises at run time ------------------------------------------------------------


class Broken(ContractApi):
    """Every operation fails inside the adapter (a mapping bug, a shape it did not expect)."""

    async def send(self, at: Endpoint, op: OmsOp, *, json: Any = None, data: bytes | None = None,
                   headers: Any = None, **params: str) -> Reply:
        raise KeyError(f"no {op.value} here")


async def _ledger(_request: web.Request) -> web.Response:
    return web.json_response({"orders": [], "fills": []})


async def test_an_adapter_that_raises_is_a_recorded_failure_never_a_crash() -> None:
    app = web.Application()
    app.router.add_get("/ledger", _ledger)
    history = History()
    async with serving(app) as url, aiohttp.ClientSession() as session:
        urls, broken = {"oms-primary": url}, Broken()
        roles = await sample_roles(session, urls, api=broken)
        door = FrontDoor(urls, session, api=broken)
        placement = await door.place(OrderRequest("BTC-USD", "buy", 1, "market", None))
        cancelled = await door.cancel("oms-primary", "o-1")
        await Operator(session, OperatorEndpoints(urls, api=broken), TOKEN, history).play(
            [KillSwitchAction(at=Duration(0), target="oms-primary", operator="bob")],
            started_ns=time.monotonic_ns())
        await capture_final_state(session, urls, url, history, quiet_s=0.01, settle_timeout_s=0.1, api=broken)

    assert roles == {"oms-primary": {"role": None, "deep_ok": False}}
    assert (placement.status, placement.instance) == ("info", "oms-primary")  # whether it was sent: unknown
    assert placement.body == {"error": "Broken raised KeyError: 'no place here'"}
    assert cancelled == 0
    failed = next(op for op in history.ops if op.kind == OpKind.ACTION and op.type == OpType.FAIL)
    assert failed.value["error"].endswith("/admin/kill-switch: KeyError: 'no kill_switch here'")
    final = next(op for op in history.ops if op.f == "final-state")
    assert final.value["instances"]["oms-primary"] == {"role": None, "positions": None, "open_orders": None}


async def test_the_contract_check_reports_an_adapter_that_raises_as_a_gap() -> None:
    app = web.Application()
    app.router.add_get("/ledger", _ledger)
    async with serving(app) as url:
        target = TargetFile.model_validate({"name": "t", "oms": {"instances": {"oms-primary": url}},
                                            "venue": {"admin_url": url}})
        target._oms_api = Broken()
        report = await check_contract(target, CheckOptions(timeout_s=0.5), AdminToken(TOKEN))

    failed = {result.check_id: result.detail for result in report.results if result.outcome is Outcome.FAIL}
    assert failed["role"] == "expected 200, got no answer: Broken raised KeyError: 'no role here'"
    assert set(failed) == {"stack.active", "health", "health.deep", "role", "positions", "orders.open",
                           "orders.bad_json", "admin.unauthorized", "admin.token"}
    assert report.exit_code == 1


# -- routes alone: the declarative form --------------------------------------------------------------


class RenamedOms:
    """A conforming OMS whose routes live under /api/v2 (and cancels by POST)."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.ledger: list[dict[str, Any]] = []

    async def role(self, _request: web.Request) -> web.Response:
        return web.json_response({"instance": "oms-primary", "role": "active"})

    async def deep(self, _request: web.Request) -> web.Response:
        return web.json_response({"role": "active", "ready": True})

    async def ok(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def positions(self, _request: web.Request) -> web.Response:
        return web.json_response({"positions": {}, "fills": 0})

    async def open_orders(self, _request: web.Request) -> web.Response:
        return web.json_response([order for order in self.orders.values() if order["status"] == "new"])

    async def place(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "not JSON"}, status=400)
        order_id = f"oms-primary-{len(self.orders)}"
        self.orders[order_id] = {"order_id": order_id, "exchange_order_id": f"X{order_id}", "cum_qty": 0,
                                 "status": "new", "instance": "oms-primary",
                                 **{key: body[key] for key in ("symbol", "side", "qty", "price")}}
        self.ledger.append({"order_id": f"X{order_id}", "cl_ord_id": order_id, "symbol": body["symbol"],
                            "side": body["side"], "qty": body["qty"], "status": "new",
                            "instance": "oms-primary", "sender_sub_id": "oms-primary",
                            "received_ns": time.monotonic_ns()})
        return web.json_response(self.orders[order_id], status=201)

    async def cancel(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        self.orders[order_id]["status"] = "canceled"
        for entry in self.ledger:
            if entry["cl_ord_id"] == order_id:
                entry["status"] = "canceled"
        return web.json_response(self.orders[order_id])

    async def limits(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"error": "invalid"}, status=422)

    async def venue(self, _request: web.Request) -> web.Response:
        return web.json_response({"orders": self.ledger, "fills": []})

    def app(self) -> web.Application:
        app = web.Application()
        app.add_routes([
            web.get("/api/v2/whoami", self.role), web.get("/api/v2/ready", self.deep),
            web.get("/api/v2/live", self.ok), web.get("/api/v2/book", self.positions),
            web.get("/api/v2/orders/open", self.open_orders), web.post("/api/v2/orders", self.place),
            web.post("/api/v2/orders/{order_id}/cancel", self.cancel), web.put("/api/v2/limits", self.limits),
            web.get("/ledger", self.venue)])
        return app


ROUTES = {"role": "GET /api/v2/whoami", "health_deep": "GET /api/v2/ready", "health": "GET /api/v2/live",
          "positions": "GET /api/v2/book", "open_orders": "GET /api/v2/orders/open",
          "place": "POST /api/v2/orders", "cancel": "POST /api/v2/orders/{order_id}/cancel",
          "risk_limits": "PUT /api/v2/limits"}


async def test_routes_alone_map_a_renamed_api_onto_the_contract(tmp_path: Path) -> None:
    oms = RenamedOms()
    async with serving(oms.app()) as url:
        path = tmp_path / "renamed.yaml"
        path.write_text(json.dumps({"name": "renamed", "oms": {"instances": {"oms-primary": url},
                                                                "adapter": {"routes": ROUTES}},
                                    "venue": {"admin_url": url}}))
        options = CheckOptions(timeout_s=0.5)
        adapted = await check_contract(load_target_file(path), options, AdminToken(TOKEN))
        plain_target = TargetFile.model_validate({"name": "plain", "oms": {"instances": {"oms-primary": url}},
                                                  "venue": {"admin_url": url}})
        plain = await check_contract(plain_target, options, AdminToken(TOKEN))

    assert [result for result in adapted.results if result.outcome is Outcome.FAIL] == []
    assert [order["status"] for order in oms.orders.values()] == ["canceled"]
    assert adapted.as_dict()["adapter"] == "ContractApi"
    assert plain.run_blocked_by() == ["stack.active"]
    assert {"role", "positions", "orders.open"} <= {gap.check.id for gap in plain.gaps()}


def test_a_plugin_that_still_names_its_adapter_with_oms_instances_gets_it_used() -> None:
    from gameday.oms_api import DEFAULT_API, OmsInstances
    from gameday.stack.settings import StackEndpoints

    adapter = object()
    built = StackEndpoints(oms=OmsInstances({"a": "http://127.0.0.1:1"}, adapter))  # type: ignore[arg-type]
    assigned = StackEndpoints()
    assigned.oms = OmsInstances({"a": "http://127.0.0.1:1"}, adapter)  # type: ignore[arg-type]

    assert built.oms_api is adapter
    assert assigned.oms_api is adapter
    assert StackEndpoints(oms={"a": "http://127.0.0.1:1"}).oms_api is DEFAULT_API
