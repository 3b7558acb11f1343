"""``gameday contract check`` against fake OMS instances on loopback: a conforming pair passes every check;
each deviation is a gap with the expectations it makes ungradable; garbage and hangs never crash it."""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from rich.console import Console

from gameday.checkers.registry import DEFAULT_CHECKERS
from gameday.contract.checks import CHECKS, Outcome
from gameday.contract.cli import add_contract_parser, cmd_contract
from gameday.contract.instance import AdminToken
from gameday.contract.orders import ROUND_TRIP
from gameday.contract.report import ContractReport, render_report
from gameday.contract.run import CheckOptions, check_contract
from gameday.target_file import TargetFile
from tests.loopback_http import serving

TOKEN = "s3cret"
FAST = CheckOptions(timeout_s=0.5, settle_s=2.0)


@dataclass
class Quirks:  # how a fake instance departs from the contract (the defaults conform)
    deep_route: bool = True
    positions_body: dict[str, Any] | None = None
    bad_json_status: int = 422
    cancel_status: int = 200
    standby_accepts: bool = False
    attributed_to: str | None = None
    calls_itself: str | None = None
    place_waits_for: asyncio.Event | None = None
    cancel_reaches_venue: bool = True


@dataclass
class FakeVenue:
    orders: list[dict[str, Any]] = field(default_factory=list)

    async def ledger(self, _request: web.Request) -> web.Response:
        return web.json_response({"orders": self.orders, "fills": [], "now_ns": time.monotonic_ns()})


@dataclass
class FakeOms:
    name: str
    role: str
    venue: FakeVenue
    quirks: Quirks = field(default_factory=Quirks)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    fills: int = 0
    cancels: list[str] = field(default_factory=list)

    async def deep(self, _request: web.Request) -> web.Response:
        return web.json_response({"role": self.role, "ready": True, "checks": {}})

    async def role_info(self, _request: web.Request) -> web.Response:
        return web.json_response({"instance": self.quirks.calls_itself or self.name, "role": self.role,
                                  "epoch": 1, "version": "1.4.2"})

    async def positions_info(self, _request: web.Request) -> web.Response:
        body = self.quirks.positions_body or {"positions": self.positions, "fills": self.fills}
        return web.json_response(body)

    async def open_orders(self, request: web.Request) -> web.Response:
        assert request.query.get("status") == "open"
        return web.json_response([order for order in self.orders.values() if order["status"] == "new"])

    async def place(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=self.quirks.bad_json_status)
        if self.quirks.place_waits_for is not None:
            await self.quirks.place_waits_for.wait()
        if self.role != "active" and not self.quirks.standby_accepts:
            return web.json_response({"error": "not active", "role": self.role}, status=503)
        order_id = f"{self.name}-1-{len(self.orders)}"
        order = {"order_id": order_id, "exchange_order_id": f"X{order_id}", "symbol": body["symbol"],
                 "side": body["side"], "qty": body["qty"], "cum_qty": 0, "status": "new",
                 "instance": self.name, "price": body["price"]}
        self.orders[order_id] = order
        self.venue.orders.append({"order_id": f"X{order_id}", "cl_ord_id": order_id, "symbol": body["symbol"],
                                  "side": body["side"], "qty": body["qty"], "status": "new",
                                  "instance": self.quirks.attributed_to or self.name,
                                  "sender_sub_id": self.name, "received_ns": time.monotonic_ns()})
        if body["type"] == "market":  # filled a little later, as an execution report would arrive
            sign = 1 if body["side"] == "buy" else -1
            asyncio.get_running_loop().call_later(0.05, self._fill, order, body["symbol"], sign * body["qty"])
        return web.json_response(order, status=201)

    def _fill(self, order: dict[str, Any], symbol: str, signed_qty: int) -> None:
        order.update(status="filled", cum_qty=abs(signed_qty))
        self.positions[symbol] = self.positions.get(symbol, 0) + signed_qty
        self.fills += 1

    async def cancel(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        self.cancels.append(order_id)
        if self.quirks.cancel_status != 200:
            return web.json_response({"error": "order already done"}, status=self.quirks.cancel_status)
        self.orders[order_id]["status"] = "canceled"
        for entry in self.venue.orders:
            if entry["cl_ord_id"] == order_id and self.quirks.cancel_reaches_venue:
                entry["status"] = "canceled"
        return web.json_response(self.orders[order_id])

    async def risk_limits(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorized"}, status=401)
        return web.json_response({"error": "invalid risk limit"}, status=422)

    def app(self) -> web.Application:
        deep = [web.get("/health/deep", self.deep)] if self.quirks.deep_route else []
        return _app(web.get("/health", _ok), *deep, web.get("/role", self.role_info),
                    web.get("/positions", self.positions_info), web.get("/orders", self.open_orders),
                    web.post("/orders", self.place), web.delete("/orders/{order_id}", self.cancel),
                    web.put("/admin/risk-limits", self.risk_limits))


async def _ok(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _app(*routes: web.RouteDef) -> web.Application:
    app = web.Application()
    app.add_routes(routes)
    return app


def _closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def _target(instances: dict[str, str], venue: str) -> TargetFile:
    return TargetFile.model_validate({"name": "fake", "oms": {"instances": instances, "admin_token": TOKEN},
                                      "venue": {"admin_url": venue}})


@asynccontextmanager
async def fake_stack(active: Quirks | None = None, standby: Quirks | None = None,
                     ) -> AsyncIterator[tuple[TargetFile, FakeOms, FakeOms]]:
    venue = FakeVenue()
    primary = FakeOms("oms-primary", "active", venue, active or Quirks())
    secondary = FakeOms("oms-secondary", "standby", venue, standby or Quirks())
    async with AsyncExitStack() as stack:
        venue_url = await stack.enter_async_context(serving(_app(web.get("/ledger", venue.ledger))))
        urls = {oms.name: await stack.enter_async_context(serving(oms.app())) for oms in (primary, secondary)}
        yield _target(urls, venue_url), primary, secondary


def _outcomes(report: ContractReport, scope: str) -> dict[str, Outcome]:
    return {result.check_id: result.outcome for result in report.of(scope)}


def _failed(report: ContractReport) -> set[tuple[str, str]]:
    return {(result.scope, result.check_id) for result in report.results if result.outcome is Outcome.FAIL}


def _detail(report: ContractReport, scope: str, check_id: str) -> str:
    return next(result.detail for result in report.of(scope) if result.check_id == check_id)


def test_every_expectation_a_check_names_is_a_registered_checker_and_ids_are_unique() -> None:
    named = {name for check in CHECKS for name in check.needed_by}
    assert named - set(DEFAULT_CHECKERS) == set()
    assert len({check.id for check in CHECKS}) == len(CHECKS)


async def test_a_conforming_pair_passes_every_check_and_the_round_trip_leaves_nothing_open() -> None:
    async with fake_stack() as (target, primary, standby):
        report = await check_contract(target, FAST, AdminToken(TOKEN))
    assert _failed(report) == set()
    assert report.exit_code == 0
    active = _outcomes(report, "oms-primary")
    assert {check_id for check_id, outcome in active.items() if outcome is Outcome.PASS} == {
        "health", "health.deep", "role", "role.name", "positions", "orders.open", "orders.bad_json",
        "admin.unauthorized", "admin.token", *ROUND_TRIP}
    assert active["positions.round_trip"] is Outcome.SKIPPED
    assert _outcomes(report, "oms-secondary")["orders.refused"] is Outcome.PASS
    assert _outcomes(report, "stack") == {"stack.active": Outcome.PASS, "venue.ledger": Outcome.PASS}
    assert [order["status"] for order in primary.orders.values()] == ["canceled"]
    assert standby.orders == {}
    assert report.conforms
    assert report.ungradable() == []


async def test_the_position_round_trip_runs_only_with_trade_and_follows_the_fills() -> None:
    async with fake_stack() as (target, primary, _):
        report = await check_contract(target, CheckOptions(timeout_s=0.5, settle_s=2.0, trade=True))
    assert _outcomes(report, "oms-primary")["positions.round_trip"] is Outcome.PASS, report.as_dict()
    assert _detail(report, "oms-primary", "positions.round_trip") == "BTC-USD 0 → 1 → 0; fills 0 → 2"
    assert primary.positions == {"BTC-USD": 0}


async def test_a_sloppy_oms_is_listed_gap_by_gap_with_what_each_makes_ungradable() -> None:
    quirks = Quirks(positions_body={"BTC-USD": 3}, bad_json_status=500, cancel_status=409)
    async with fake_stack(active=quirks) as (target, primary, _):
        report = await check_contract(target, FAST, AdminToken(TOKEN))
    assert _failed(report) == {("oms-primary", "positions"), ("oms-primary", "orders.bad_json"),
                               ("oms-primary", "orders.cancel")}
    assert report.exit_code == 1
    gaps = {gap.check.id: gap for gap in report.gaps()}
    assert gaps["positions"].check.needed_by == ("positions.mismatch_bps",)
    assert report.ungradable() == ["positions.mismatch_bps"]
    assert report.run_blocked_by() == []
    assert "HTTP 500" in gaps["orders.bad_json"].seen["oms-primary"]
    cancel = gaps["orders.cancel"].seen["oms-primary"]
    assert "expected 200, got HTTP 409" in cancel
    assert "may still rest at the venue" in cancel
    assert _outcomes(report, "oms-primary")["ledger.canceled"] is Outcome.SKIPPED
    assert len(primary.cancels) == 1


async def test_without_deep_health_no_run_can_start_so_every_expectation_is_ungradable() -> None:
    async with fake_stack(active=Quirks(deep_route=False)) as (target, primary, _):
        report = await check_contract(target, FAST, AdminToken(TOKEN))
    assert _failed(report) == {("oms-primary", "health.deep"), ("stack", "stack.active")}
    assert report.run_blocked_by() == ["stack.active"]
    assert "expected 200 or 503, got HTTP 404" in _detail(report, "oms-primary", "health.deep")
    assert "oms-primary: active (no deep health)" in _detail(report, "stack", "stack.active")
    assert _outcomes(report, "oms-primary")["orders.place"] is Outcome.SKIPPED
    assert primary.orders == {}
    text = _rendered(report)
    assert "no run can start (stack.active)" in text
    assert "every expectation is ungradable" in text


async def test_a_standby_that_takes_an_order_fails_and_the_order_is_cancelled_again() -> None:
    async with fake_stack(standby=Quirks(standby_accepts=True)) as (target, _, standby):
        report = await check_contract(target, FAST)
    assert _failed(report) == {("oms-secondary", "orders.refused")}
    detail = _detail(report, "oms-secondary", "orders.refused")
    assert detail.startswith("expected 503 from a standby instance, got HTTP 201")
    assert "cancelled it again" in detail
    assert standby.cancels == list(standby.orders)
    assert {"orders.client_failed", "rto.failover"} <= set(report.ungradable())
    assert _outcomes(report, "oms-primary")["admin.token"] is Outcome.SKIPPED


async def test_an_order_without_an_answer_in_time_fails_and_its_outcome_is_called_unknown() -> None:
    release = asyncio.Event()
    async with fake_stack(active=Quirks(place_waits_for=release)) as (target, _, _):
        try:
            report = await check_contract(target, CheckOptions(timeout_s=0.3), AdminToken(TOKEN))
        finally:
            release.set()
    assert _failed(report) == {("oms-primary", "orders.place")}
    assert _detail(report, "oms-primary", "orders.place") == ("expected 201, got no answer: no answer within "
                                                              "0.3 s; the order's outcome is unknown: it may "
                                                              "have reached the venue")
    assert _outcomes(report, "oms-primary")["orders.listed"] is Outcome.SKIPPED


async def test_the_ledger_must_attribute_the_order_to_its_sender_and_see_the_cancel() -> None:
    quirks = Quirks(attributed_to="OMS-PRIMARY", calls_itself="oms-a", cancel_reaches_venue=False)
    async with fake_stack(active=quirks) as (target, _, _):
        report = await check_contract(target, FAST, AdminToken(TOKEN))
    assert _failed(report) == {("oms-primary", "role.name"), ("oms-primary", "ledger.attributed"),
                               ("oms-primary", "ledger.canceled")}
    assert "the venue attributes it to 'OMS-PRIMARY'" in _detail(report, "oms-primary", "ledger.attributed")
    assert "it calls itself 'oms-a'" in _detail(report, "oms-primary", "role.name")
    assert "'new' after DELETE answered 200" in _detail(report, "oms-primary", "ledger.canceled")
    assert report.ungradable() == ["deploy.cutover_gap", "orders.before_ghosts_alerted", "orders.ghost",
                                   "orders.sent_without_lease", "writers.concurrent_active"]


async def test_garbage_hangs_and_refused_connections_are_failed_checks_not_crashes() -> None:
    release = asyncio.Event()

    async def garbage(_request: web.Request) -> web.Response:
        return web.Response(text="<html>proxy error</html>", status=200)

    async def hang(_request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({})

    async def wrong_types(_request: web.Request) -> web.Response:
        return web.json_response([[["nested"]], 7])

    apps = {name: _app(web.route("*", "/{tail:.*}", handler))
            for name, handler in (("html", garbage), ("hang", hang), ("types", wrong_types))}
    async with AsyncExitStack() as stack:
        urls = {name: await stack.enter_async_context(serving(app)) for name, app in apps.items()}
        stack.callback(release.set)
        target = _target({**urls, "refused": _closed_url()}, urls["types"])
        started = time.monotonic()
        report = await check_contract(target, CheckOptions(timeout_s=0.3), AdminToken(TOKEN))
        elapsed = time.monotonic() - started
    assert elapsed < 5.0
    passed = {(result.scope, result.check_id) for result in report.results if result.outcome is Outcome.PASS}
    assert passed == {("html", "health"), ("types", "health")}  # /health asks only for a 200
    assert "expected a JSON body, got HTTP 200: <html>proxy error</html>" in _detail(report, "html", "role")
    assert _detail(report, "hang", "health") == "expected 200, got no answer: no answer within 0.3 s"
    refused = _detail(report, "refused", "health")
    assert refused.startswith("expected 200, got no answer: ClientConnectorError"), refused
    assert "expected a JSON object, got list" in _detail(report, "types", "positions")
    assert "expected {\"orders\": [...], \"fills\": [...]}" in _detail(report, "stack", "venue.ledger")
    assert report.run_blocked_by() == ["stack.active"]


async def test_a_crashing_probe_fails_its_checks_with_the_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    async def crash(*_args: object) -> None:
        raise RuntimeError("probe bug")

    monkeypatch.setattr("gameday.contract.run.round_trip", crash)
    async with fake_stack() as (target, _, _):
        report = await check_contract(target, FAST, AdminToken(TOKEN))
    assert {check_id for scope, check_id in _failed(report)} == set(ROUND_TRIP)
    crashed = _detail(report, "oms-primary", "orders.place")
    assert crashed == "the check itself crashed: RuntimeError: probe bug"


async def test_the_json_report_is_data_and_the_tables_name_every_gap() -> None:
    async with fake_stack(active=Quirks(positions_body={"positions": {"BTC-USD": "3"}, "fills": 0})) as (
            target, _, _):
        report = await check_contract(target, FAST, AdminToken(TOKEN))
    data = json.loads(json.dumps(report.as_dict()))
    assert data["conforms"] is False
    assert data["exit_code"] == 1
    assert [gap["check"] for gap in data["gaps"]] == ["positions"]
    assert data["gaps"][0]["where"]["oms-primary"].startswith("positions: expected integer quantities")
    assert data["ungradable"] == ["positions.mismatch_bps"]
    assert [entry["check"] for entry in data["results"]["stack"]] == ["stack.active", "venue.ledger"]
    text = _rendered(report)
    assert "does not conform: 1 gap; ungradable: positions.mismatch_bps" in text
    assert "GET /positions" in text


def _rendered(report: ContractReport) -> str:
    buffer = StringIO()
    Console(file=buffer, width=250, color_system=None).print(render_report(report))
    return buffer.getvalue()


def _run_cli(argv: list[str]) -> tuple[int, str]:
    parser, buffer = argparse.ArgumentParser(prog="gameday"), StringIO()
    add_contract_parser(parser.add_subparsers(dest="command", required=True))
    code = cmd_contract(parser.parse_args(argv), Console(file=buffer, width=250, color_system=None))
    return code, buffer.getvalue()


def test_a_bad_target_file_exits_2_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("name: t\noms: {instances: {oms-primary: 'http://10.1.2.3:8080'}}\n"
                   "venue: {admin_url: 'http://127.0.0.1:9'}\n")
    code, out = _run_cli(["contract", "check", "--target", str(bad)])
    assert code == 2
    assert "'http://10.1.2.3:8080' is not on loopback" in out
    assert "Traceback" not in out


def test_the_cli_prints_json_and_exits_1_when_nothing_answers(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTRACT_TEST_TOKEN", raising=False)
    closed = _closed_url()
    target = tmp_path / "t.yaml"
    target.write_text(f"name: t\noms: {{instances: {{oms-primary: '{closed}'}}, "
                      f"admin_token_env: CONTRACT_TEST_TOKEN}}\nvenue: {{admin_url: '{closed}'}}\n")
    code, out = _run_cli(["contract", "check", "--target", str(target), "--json", "--timeout-s", "0.5"])
    assert code == 1
    data = json.loads(out)
    assert data["run_blocked_by"] == ["stack.active"]
    admin = next(entry for entry in data["results"]["oms-primary"] if entry["check"] == "admin.token")
    assert admin["outcome"] == "skipped"
    assert "CONTRACT_TEST_TOKEN" in admin["detail"]


def test_the_timeout_must_be_a_positive_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run_cli(["contract", "check", "--target", "t.yaml", "--timeout-s", "0"])
    assert exit_info.value.code == 2
    assert "expected a positive number of seconds" in capsys.readouterr().err
