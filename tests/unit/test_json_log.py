"""The structured log lines (trading_stack.json_log, mock_exchange.json_log) and the correlation id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from mock_exchange import json_log as venue_log
from trading_stack.json_log import (
    JsonFormatter,
    configure_logging,
    corr_from_header,
    current_corr,
    log_event,
    new_corr,
    valid_corr,
)

BASE_KEYS = {"ts", "level", "service", "instance", "event", "msg"}


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("oms", "oms-primary"))
    logger = logging.getLogger("tests.json_log")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("value", ["t-123", "a" * 64, "Ab0._:-", "2026-12-07T18:00:00.1"])
def test_a_valid_correlation_id_is_kept(value: str) -> None:
    assert valid_corr(value)
    assert corr_from_header(value) == value


@pytest.mark.parametrize("value", ["", "a" * 65, "has space", "semi;colon", "new\nline", "é", "t-1\n"])
def test_an_invalid_correlation_id_is_replaced_by_a_new_one(value: str) -> None:
    assert not valid_corr(value)
    replaced = corr_from_header(value)
    assert replaced != value
    assert valid_corr(replaced)


def test_no_header_gets_a_new_id_each_time() -> None:
    first, second = corr_from_header(None), corr_from_header(None)
    assert valid_corr(first)
    assert valid_corr(second)
    assert first != second
    assert valid_corr(new_corr())


def test_a_line_holds_the_schema_and_the_order_keys(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    log_event(logger, "order_sent", "NewOrderSingle sent", corr="t-123", cl_ord_id="oms-1-1", symbol="AAPL",
              side="buy", qty=5, detail={"limit": 10, "msg": "never over the base keys"})
    [line] = lines(stream)
    assert set(line) >= BASE_KEYS
    assert (line["service"], line["instance"], line["event"], line["level"]) == (
        "oms", "oms-primary", "order_sent", "info")
    assert (line["msg"], line["corr"], line["cl_ord_id"], line["qty"], line["limit"]) == (
        "NewOrderSingle sent", "t-123", "oms-1-1", 5, 10)
    assert isinstance(line["ts"], float)
    assert "order_id" not in line
    assert "exec_id" not in line


def test_the_current_correlation_id_is_added_and_an_explicit_one_wins(
        captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    token = current_corr.set("req-1")
    try:
        logger.info("plain line with %d arg", 1)
        log_event(logger, "fill", "a fill", corr="order-corr")
    finally:
        current_corr.reset(token)
    logger.info("after the request")
    plain, explicit, after = lines(stream)
    assert (plain["corr"], plain["event"], plain["msg"]) == ("req-1", "json_log", "plain line with 1 arg")
    assert explicit["corr"] == "order-corr"
    assert "corr" not in after


def test_an_exception_is_one_line_holding_its_traceback(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    [line] = lines(stream)
    assert line["level"] == "error"
    assert "ValueError: boom" in str(line["exc"])


def test_an_unknown_order_key_is_refused(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, _ = captured
    with pytest.raises(TypeError, match="price"):
        log_event(logger, "fill", "a fill", price=1.0)


def test_configure_logging_replaces_the_root_handlers() -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    stream = io.StringIO()
    try:
        configure_logging("failover", "failover", stream=stream)
        logging.getLogger("trading_stack.failover").warning("decision %s", "suspect")
        assert root.handlers
        assert all(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)
    [line] = lines(stream)
    assert (line["service"], line["event"], line["level"], line["msg"]) == (
        "failover", "failover", "warning", "decision suspect")


def test_the_venue_lines_share_the_schema_without_a_correlation_id() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(venue_log.JsonFormatter("MOCKEX"))
    record = logging.LogRecord("mock_exchange.orders", logging.INFO, __file__, 1, "fill %s", ("c1",), None)
    record.__dict__.update(event="fill", cl_ord_id="c1", order_id="O1", exec_id="E2", detail={"price": 1.5})
    handler.emit(record)
    [line] = lines(stream)
    assert set(line) >= BASE_KEYS
    keys = ("service", "instance", "event", "cl_ord_id", "exec_id", "price")
    seen = tuple(line[key] for key in keys)
    assert seen == ("venue", "MOCKEX", "fill", "c1", "E2", 1.5)
    assert "corr" not in line
