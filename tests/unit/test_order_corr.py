"""An order keeps its correlation id across instances: in its stream event, on the standby that
mirrors it, and on the order a request creates."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from trading_stack.book import Book
from trading_stack.deploy.versions import OmsVersion
from trading_stack.events import EventPublisher, Mirror
from trading_stack.models import Order, OrderStatus, Side


def order(corr: str | None) -> Order:
    return Order(order_id="oms-a-1-1", exchange_order_id="O1", symbol="AAPL", side=Side.BUY, qty=5,
                 cum_qty=1, status=OrderStatus.PARTIALLY_FILLED, instance="oms-a", price=10.0, corr=corr)


def published(corr: str | None) -> dict[str, Any]:
    publisher = EventPublisher(None, "oms", "oms-a")  # type: ignore[arg-type]  # nothing is sent here
    publisher.order(order(corr))
    subject, data = publisher._queue.get_nowait()
    assert subject == "oms.orders"
    body: dict[str, Any] = json.loads(data)
    return body


def test_the_order_event_carries_the_correlation_id_beside_the_order() -> None:
    body = published("t-123")
    assert body["corr"] == "t-123"
    assert "corr" not in body["order"]  # the §4 Order shape is unchanged
    assert "corr" not in published(None)


@pytest.mark.parametrize(("sent", "kept"), [("t-123", "t-123"), ("not valid!", None), (7, None)])
def test_the_standby_keeps_a_valid_correlation_id_and_logs_the_order_with_it(
        sent: object, kept: str | None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trading_stack.orders")
    book = Book(OmsVersion.V1_4_2)
    mirror = Mirror(None, "OMS", "oms", book)  # type: ignore[arg-type]  # apply() does no I/O
    body = published("t-123")
    body["corr"] = sent
    mirror.apply("oms.orders", body)
    mirrored = book.get("oms-a-1-1")
    assert mirrored is not None
    assert mirrored.corr == kept
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "order_mirrored"]
    assert getattr(line, "corr", None) == kept
    mirror.apply("oms.orders", body)  # known now: no second line
    assert len([r for r in caplog.records if getattr(r, "event", None) == "order_mirrored"]) == 1
