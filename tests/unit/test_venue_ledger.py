"""Ledger of truth: JSONL persistence, replay, crash tolerance, attribution."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mock_exchange.ledger import Ledger, LedgerCorruptError
from mock_exchange.model import (
    Order,
    OrderStatus,
    OrdType,
    SessionEventKind,
    Side,
    TimeInForce,
    attribute_instance,
)


def _order(ledger: Ledger, cl_ord_id: str, *, qty: int = 10, sub_id: str | None = "oms-a") -> Order:
    return ledger.record_order(
        Order(
            order_id=ledger.next_order_id(),
            cl_ord_id=cl_ord_id,
            sender_comp_id="OMS-A",
            sender_sub_id=sub_id,
            instance=attribute_instance(sub_id, cl_ord_id),
            symbol="BTC-USD",
            side=Side.BUY,
            ord_type=OrdType.LIMIT,
            tif=TimeInForce.GTC,
            price=100.0,
            qty=qty,
            received_ns=1,
        )
    )


def _state(ledger: Ledger) -> tuple[object, ...]:
    return (
        [order.to_json() for order in ledger.orders.values()],
        [fill.to_json() for fill in ledger.fills],
        [record.to_json() for record in ledger.sessions.values()],
        list(ledger.open_orders),
        ledger.next_order_id(),
    )


def _populate(path: Path) -> tuple[object, ...]:
    ledger = Ledger.open(path)
    ledger.record_session("OMS-A", SessionEventKind.LOGON, t_ns=5, in_seq=1, out_seq=0)
    filled = _order(ledger, "oms-a-1-1", qty=10)
    ledger.record_fill(filled, qty=4, price=100.0, t_ns=10)
    ledger.record_fill(filled, qty=6, price=99.0, t_ns=11)
    canceled = _order(ledger, "oms-a-1-2")
    ledger.record_fill(canceled, qty=3, price=100.0, t_ns=12)
    ledger.record_cancel(canceled, t_ns=13, text="canceled on request", cancel_cl_ord_id="oms-a-1-3")
    _order(ledger, "oms-a-1-4")
    ledger.record_session("OMS-A", SessionEventKind.LOGOUT, t_ns=20, in_seq=9, out_seq=12)
    state = _state(ledger)
    ledger.close()
    return state


def test_state_changes_are_indexed(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _populate(path)
    with Ledger.open(path) as ledger:
        _check_indexes(ledger)


def _check_indexes(ledger: Ledger) -> None:
    filled, canceled, open_order = ledger.orders.values()
    assert (filled.status, filled.cum_qty, filled.leaves_qty, filled.avg_px) == (
        OrderStatus.FILLED,
        10,
        0,
        99.4,
    )
    assert (canceled.status, canceled.cum_qty, canceled.leaves_qty) == (OrderStatus.CANCELED, 3, 0)
    assert [event.exec_type.value for event in canceled.events] == ["new", "trade", "canceled"]
    assert list(ledger.open_orders) == [open_order.order_id]
    assert [fill.qty for fill in ledger.fills] == [4, 6, 3]
    assert ledger.order_by_cl_ord_id("oms-a-1-2") is canceled
    session = ledger.sessions["OMS-A"]
    assert (session.logons, session.logged_on, session.in_seq, session.out_seq) == (1, False, 9, 12)


def test_every_event_is_one_json_line_on_disk_before_returning(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger.open(path)
    order = _order(ledger, "oms-a-1-1")
    with ledger:
        lines = path.read_text().splitlines()  # read while the ledger is still open: flushed
        assert [json.loads(line)["kind"] for line in lines] == ["order"]
        ledger.record_fill(order, qty=1, price=100.0, t_ns=2)
        assert len(path.read_text().splitlines()) == 2


def test_reopen_rebuilds_identical_state(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    before = _populate(path)
    with Ledger.open(path) as ledger:
        assert _state(ledger) == before
        assert _order(ledger, "oms-a-2-1").order_id == "O4"


def test_truncated_last_line_is_dropped_and_file_repaired(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    before = _populate(path)
    with path.open("a") as file:
        file.write('{"kind":"fill","t_ns":30,"order_id":"O3","exec')
    with Ledger.open(path) as ledger:
        assert _state(ledger) == before
        _order(ledger, "oms-a-2-1")
    with Ledger.open(path) as reopened:
        assert len(reopened.orders) == 4


def test_complete_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _populate(path)
    with path.open("a") as file:
        file.write('{"kind":"fill","t_ns":30,"order_id":"O3","exec_id":"E99","qty":2,"price":100.0}')
    with Ledger.open(path) as ledger:
        assert ledger.orders["O3"].cum_qty == 2
        _order(ledger, "oms-a-2-1")
    with Ledger.open(path) as reopened:
        assert len(reopened.orders) == 4


def test_corrupt_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _populate(path)
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:10]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LedgerCorruptError, match=":3:"):
        Ledger.open(path)


@pytest.mark.parametrize(
    ("sub_id", "cl_ord_id", "instance"),
    [
        ("oms-blue", "whatever-1-2", "oms-blue"),
        (None, "oms-blue-1700000000-42", "oms-blue"),
        (None, "primary-7-1", "primary"),
        (None, "plain-id", "plain"),
        (None, "noprefix", "noprefix"),
    ],
)
def test_instance_attribution(sub_id: str | None, cl_ord_id: str, instance: str) -> None:
    assert attribute_instance(sub_id, cl_ord_id) == instance


def test_deferred_flush_reaches_the_file_when_the_batch_ends(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    with Ledger.open(path) as ledger:
        with ledger.deferred_flush():
            _order(ledger, "oms-a-1-1")
            _order(ledger, "oms-a-1-2")
            assert path.read_text() == "", "held in the buffer until the batch ends"
        lines = [json.loads(line)["cl_ord_id"] for line in path.read_text().splitlines()]
        assert lines == ["oms-a-1-1", "oms-a-1-2"]
        _order(ledger, "oms-a-1-3")
        assert len(path.read_text().splitlines()) == 3, "outside a batch every event is flushed"


@pytest.mark.parametrize(
    ("cl_ord_id", "sub_id", "price", "text"),
    [("oms-a-1-1", "oms-a", 100.25, None), ('quote"\\é-1', None, None, "rejected: ünknown\n")],
)
def test_order_line_is_what_json_writes(
    tmp_path: Path, cl_ord_id: str, sub_id: str | None, price: float | None, text: str | None
) -> None:
    order = Order(
        order_id="O1",
        cl_ord_id=cl_ord_id,
        sender_comp_id="OMS-A",
        sender_sub_id=sub_id,
        instance=attribute_instance(sub_id, cl_ord_id),
        symbol="BTC-USD",
        side=Side.SELL,
        ord_type=OrdType.MARKET if price is None else OrdType.LIMIT,
        tif=TimeInForce.IOC,
        price=price,
        qty=7,
        received_ns=123,
        status=OrderStatus.REJECTED if text else OrderStatus.NEW,
    )
    with Ledger.open(tmp_path / "ledger.jsonl") as ledger:
        ledger.record_order(order, text=text)
    expected = {
        "kind": "order",
        "t_ns": 123,
        "order_id": "O1",
        "cl_ord_id": cl_ord_id,
        "sender_comp_id": "OMS-A",
        "sender_sub_id": sub_id,
        "instance": order.instance,
        "symbol": "BTC-USD",
        "side": "sell",
        "ord_type": order.ord_type.value,
        "tif": "ioc",
        "price": price,
        "qty": 7,
        "status": order.status.value,
        "exec_id": "E1",
        "text": text,
    }
    line = (tmp_path / "ledger.jsonl").read_text(encoding="utf-8")
    assert line == json.dumps(expected, separators=(",", ":")) + "\n"
