"""Nothing a request sends in crashes, hangs, leaks or corrupts the venue (issue 15), unit level:
bounded fault parameters, a price that stays finite, matching that survives a failing fault,
a ledger that never writes or reads back what JSON cannot hold, and refused logons in bounds."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest

from mock_exchange.book import MatchingEngine
from mock_exchange.config import SymbolConfig, VenueConfig
from mock_exchange.executions import NewOrderRequest
from mock_exchange.fault_board import FaultBoard
from mock_exchange.faults import FaultKind, FaultParamsError, Halt, PricePath, parse_fault
from mock_exchange.ledger import Ledger, LedgerCorruptError, LedgerError
from mock_exchange.matching_loop import MatchingLoop
from mock_exchange.model import OrderStatus, OrdType, SessionEventKind, Side, TimeInForce
from mock_exchange.prices import LinearPath, PriceProcess
from mock_exchange.refusals import RefusedLogons

FILL = '{"kind":"fill","t_ns":1,"order_id":"O9","exec_id":"E1","qty":%s,"price":%s}'


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _config(tmp_path: Path, **overrides: object) -> VenueConfig:
    values: dict[str, object] = {"fix_port": 0, "admin_port": 0, "ledger_path": tmp_path / "ledger.jsonl"}
    return VenueConfig.model_validate({**values, **overrides})


def _request(qty: int, price: float | None) -> NewOrderRequest:
    ord_type = OrdType.MARKET if price is None else OrdType.LIMIT
    return NewOrderRequest("c-1", "OMS-A", None, "BTC-USD", Side.BUY, ord_type, TimeInForce.GTC, price, qty)


def _lines(path: Path) -> list[dict[str, object]]:
    """Every ledger line, read as strict JSON (NaN and Infinity refused)."""

    def refuse(name: str) -> float:
        raise AssertionError(f"{name} in the ledger")

    return [json.loads(line, parse_constant=refuse) for line in path.read_text().splitlines()]


# -- fault parameters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        (FaultKind.PRICE_PATH, {"symbol": "BTC-USD", "move_pct": 1e308, "over_s": 0}, "move_pct"),
        (FaultKind.PRICE_PATH, {"symbol": "BTC-USD", "move_pct": 5, "over_s": 1e308}, "over_s"),
        (FaultKind.EXECUTION_REPORTS, {"mode": "delay", "delay_s": 1e308}, "delay_s"),
        (FaultKind.EXECUTION_REPORTS, {"mode": "drop", "probability": "NaN"}, "probability"),
        (FaultKind.RATE_LIMIT, {"max_orders": 5, "window_s": "inf"}, "window_s"),
        (FaultKind.RATE_LIMIT, {"max_orders": 5, "window_s": 1, "ban_s": 1e300}, "ban_s"),
        (FaultKind.RATE_LIMIT, {"max_orders": 10**30, "window_s": 1}, "max_orders"),
        (FaultKind.RECONNECT_COOLDOWN, {"clean_s": "Infinity"}, "clean_s"),
        (FaultKind.REJECT_NEW_ORDERS, {"reason": "x" * 100_000}, "reason"),
        (FaultKind.HALT, {"symbols": ["S"] * 5_000}, "symbols"),
        (FaultKind.CANCEL_FAILURE, {"mode": "reject", "session": "A" * 1_000}, "session"),
    ],
)
def test_fault_parameters_beyond_their_bounds_are_refused_naming_the_field(
    kind: FaultKind, params: dict[str, object], field: str
) -> None:
    with pytest.raises(FaultParamsError, match=rf"^{field}: ") as refused:
        parse_fault(kind, params)
    assert len(str(refused.value)) < 300


def test_a_made_up_field_name_is_named_shortened() -> None:
    with pytest.raises(FaultParamsError, match=r"^x{80}\.\.\. \(5000 chars\): Extra inputs") as refused:
        parse_fault(FaultKind.HALT, {"symbols": ["S"], "x" * 5_000: 1})
    assert len(str(refused.value)) < 200


def test_a_price_path_beyond_the_max_price_is_refused_and_nothing_is_armed(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.jsonl") as ledger:
        engine = MatchingEngine(_config(tmp_path, max_price=100_000.0), ledger)
        above = r"^move_pct: would take BTC-USD .* above the venue's max_price"
        with pytest.raises(FaultParamsError, match=above):
            engine.faults.arm(PricePath(symbol="BTC-USD", move_pct=100, over_s=0))
        assert engine.faults.active() == []


# -- prices and matching -----------------------------------------------------------------------


@pytest.mark.parametrize("move_pct", [-99.99999, 1e4])
def test_a_price_stays_finite_positive_and_within_its_ceiling(move_pct: float) -> None:
    clock = FakeClock()
    process = PriceProcess(SymbolConfig(symbol="X", start_price=60_000.0), seed=1, clock=clock, ceiling=1e6)
    process.follow(move_pct=move_pct, over_s=2)
    for _ in range(5):
        clock.now += 1
        quote = process.step()
        assert 0 < quote.bid < quote.ask <= 1e6 + 1
    assert not process.is_on_tick(1e308)


def test_a_price_path_that_raises_while_matching_is_disarmed_once_and_matching_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with Ledger.open(tmp_path / "ledger.jsonl") as ledger:
        engine = MatchingEngine(_config(tmp_path, fill_probability=1.0), ledger)
        engine.faults.arm(PricePath(symbol="BTC-USD", move_pct=10, over_s=5))

        def broken(self: LinearPath, t: float) -> float:
            raise OverflowError("cannot convert float infinity to integer")

        monkeypatch.setattr(LinearPath, "mid_at", broken)
        eth_before = engine.prices["ETH-USD"].quote
        with caplog.at_level(logging.ERROR, logger="mock_exchange"):
            for _ in range(20):
                engine.step()
        assert engine.faults.active() == []
        assert engine.prices["ETH-USD"].quote != eth_before  # the other symbols kept moving
        errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert "price_path" in errors[0].getMessage()
        heals = [line for line in _lines(ledger.path) if line["kind"] == "fault" and line["action"] == "heal"]
        assert [heal["fault"] for heal in heals] == ["price_path"]


def test_a_listener_that_fails_never_keeps_a_fault_from_healing(caplog: pytest.LogCaptureFixture) -> None:
    board = FaultBoard()
    heard: list[FaultKind] = []

    def failing(kind: FaultKind, fault: object) -> None:
        if fault is None:
            raise OverflowError("cannot convert float infinity to integer")

    board.subscribe(failing)
    board.subscribe(lambda kind, fault: heard.append(kind))
    board.arm(Halt(symbols=("X",)))
    with caplog.at_level(logging.ERROR, logger="mock_exchange"):
        board.heal_all()
    assert board.active() == []
    assert heard == [FaultKind.HALT, FaultKind.HALT]


def test_a_failing_step_disarms_the_faults_armed_and_then_logs_its_traceback_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    board = FaultBoard()
    board.arm(Halt(symbols=("X",)))
    clock = FakeClock()

    def step() -> None:
        raise OverflowError("cannot convert float infinity to integer")

    loop = MatchingLoop(step, board, 0.01, clock=clock)
    with caplog.at_level(logging.ERROR, logger="mock_exchange"):
        assert loop.run_once() is False
        assert board.active() == []
        caplog.clear()
        for _ in range(125):  # a second of steps at the rate the issue saw
            clock.now += 0.008
            loop.run_once()
    assert sum(1 for record in caplog.records if record.exc_info) == 1
    assert len(caplog.records) <= 2


# -- order bounds ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "price", "text"),
    [
        (10**30, None, "OrderQty above the venue's maximum of 1000 lots"),
        (1_001, None, "OrderQty above the venue's maximum of 1000 lots"),
        (1, 1e300, "Price above the venue's maximum of 1e+06"),
        (1, 1e308, "Price above the venue's maximum of 1e+06"),
    ],
)
def test_orders_beyond_the_venue_limits_are_rejected(
    tmp_path: Path, qty: int, price: float | None, text: str
) -> None:
    with Ledger.open(tmp_path / "ledger.jsonl") as ledger:
        config = _config(tmp_path, max_order_qty=1_000, max_price=1e6, fill_probability=1.0)
        engine = MatchingEngine(config, ledger)
        (ack,) = engine.submit(_request(qty, price))
        engine.step()
        assert (ack.order.status, ack.text) == (OrderStatus.REJECTED, text)
        assert ledger.fills == []


# -- the ledger --------------------------------------------------------------------------------


def test_the_ledger_refuses_to_write_a_number_json_cannot_hold(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.jsonl") as ledger:
        engine = MatchingEngine(_config(tmp_path), ledger)
        (ack,) = engine.submit(_request(5, 1.0))
        with pytest.raises(LedgerError):
            ledger.record_fill(ack.order, qty=1, price=math.inf, t_ns=1)
        with pytest.raises(LedgerError):
            ledger.record_fill(ack.order, qty=1, price=math.nan, t_ns=1)
        assert (ack.order.cum_qty, ledger.fills) == (0, [])
    assert [line["kind"] for line in _lines(ledger.path)] == ["order"]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"kind":"order"}', r"'order' event without 't_ns'"),
        ("[]", r"not a ledger event: a JSON object is expected, not list"),
        ("42", r"not a ledger event: a JSON object is expected, not int"),
        ('{"t_ns":1}', r'not a ledger event: no "kind" string'),
        (FILL % ("1", "1.0"), r"unknown order_id 'O9'"),
        (FILL % ("1", "NaN"), r"NaN is not a JSON number"),
        (FILL % ("1", "1e999"), r"beyond the numbers"),
        ('{"kind":"session","t_ns":1,"sender_comp_id":"A","event":"?","in_seq":0,"out_seq":0}', r"cannot be"),
        (FILL % ("true", "1.0"), r"'qty' must be"),
    ],
)
@pytest.mark.parametrize("last", [False, True])
def test_a_corrupt_but_well_formed_line_names_the_file_and_line(
    tmp_path: Path, line: str, problem: str, last: bool
) -> None:
    path = tmp_path / "ledger.jsonl"
    good = '{"kind":"fault","t_ns":1,"fault":"halt","action":"heal","params":null}\n'
    path.write_text(good + line + ("" if last else "\n" + good))
    with pytest.raises(LedgerCorruptError, match=rf"^{path}:2: .*{problem}") as corrupt:
        Ledger.open(path)
    assert "\n" not in str(corrupt.value)


# -- refused logons ----------------------------------------------------------------------------


def test_refused_logons_are_recorded_a_few_a_second_per_peer_and_count_the_rest(tmp_path: Path) -> None:
    clock = FakeClock()
    with Ledger.open(tmp_path / "ledger.jsonl") as ledger:
        refusals = RefusedLogons(ledger, per_second=2, clock=clock)
        written = [refusals.record("X" * 20_000, f"unknown SenderCompID {'X' * 20_000!r}", peer="10.0.0.1")
                   for _ in range(50)]
        assert refusals.record("OMS-Z", "unknown SenderCompID 'OMS-Z'", peer="10.0.0.2")
        clock.now += 1.0
        assert refusals.record("X", "unknown SenderCompID 'X'", peer="10.0.0.1")
    assert written.count(True) == 2
    lines = _lines(ledger.path)
    assert all(line["event"] == SessionEventKind.LOGON_REFUSED.value for line in lines)
    assert [(line["peer"], line.get("suppressed")) for line in lines] == [
        ("10.0.0.1", None), ("10.0.0.1", None), ("10.0.0.2", None), ("10.0.0.1", 48)
    ]
    assert max(len(json.dumps(line)) for line in lines) < 600
    assert ledger.path.stat().st_size < 2_000
