"""Reading a NewOrderSingle (mock_exchange.fix.fields): the one-go read of the common order
gives what the field-by-field checks give, and the same error for anything else."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from mock_exchange.executions import NewOrderRequest
from mock_exchange.fix.codec import FixMessage
from mock_exchange.fix.fields import InvalidFieldError, _checked_new_order_request, new_order_request
from mock_exchange.model import OrdType, Side, TimeInForce

VALUES: dict[int, list[bytes]] = {
    40: [b"1", b"2", b"3", b""],
    11: [b"c-1", b""],
    55: [b"BTC-USD", b""],
    54: [b"1", b"2", b"5", b""],
    59: [b"0", b"1", b"3", b"9", b""],
    44: [b"1.5", b"7", b"7.", b"1e3", b"inf", b"nan", b"-2", b"", b"1" * 20, b"0.1234567890123456"],
    38: [b"10", b"010", b"10.0", b"1.5", b"1" * 400, b"1" * 16, b"-3", b"x", b""],
    50: [b"oms-a", b""],
}
_FIELDS = st.fixed_dictionaries({}, optional={tag: st.sampled_from(values) for tag, values in VALUES.items()})


def _outcome(read: Callable[[str, FixMessage], NewOrderRequest], message: FixMessage) -> object:
    try:
        return read("OMS-A", message)
    except InvalidFieldError as error:
        return (error.tag, error.reason, error.text)


@given(_FIELDS)
def test_the_one_go_read_agrees_with_the_field_by_field_checks(fields: dict[int, bytes]) -> None:
    message = FixMessage([(35, b"D"), *fields.items()])
    assert _outcome(new_order_request, message) == _outcome(_checked_new_order_request, message)


def test_a_common_limit_order_is_read() -> None:
    fields = [(35, b"D"), (50, b"oms-a"), (11, b"c-1"), (55, b"BTC-USD"), (54, b"2"), (38, b"10"), (40, b"2")]
    request = new_order_request("OMS-A", FixMessage([*fields, (44, b"1.5"), (59, b"1")]))
    assert request == NewOrderRequest(
        "c-1", "OMS-A", "oms-a", "BTC-USD", Side.SELL, OrdType.LIMIT, TimeInForce.GTC, 1.5, 10
    )
