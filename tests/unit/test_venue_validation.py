"""Field-level validation against the FIX 4.4 dictionary (mock_exchange.fix.validation)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mock_exchange.fix.checks import RejectReason
from mock_exchange.fix.codec import FixMessage
from mock_exchange.fix.dictionary import fix44
from mock_exchange.fix.validation import MessageValidator, Problem, fix44_validator

NOW = b"20260102-03:04:05.678"
HEADER = [(49, b"OMS-A"), (56, b"MOCKEX"), (34, b"2"), (52, NOW)]
ORDER = [(11, b"c-1"), (55, b"BTC-USD"), (54, b"1"), (38, b"10"), (40, b"2"), (44, b"1.5"), (60, NOW)]


def _message(
    msg_type: bytes, body: list[tuple[int, bytes]], header: list[tuple[int, bytes]] = HEADER
) -> FixMessage:
    return FixMessage([(35, msg_type), *header, *body])


def test_a_plain_new_order_single_is_valid() -> None:
    assert fix44_validator().validate(_message(b"D", ORDER)) is None


def test_groups_with_the_right_count_are_valid() -> None:
    body = [*ORDER, (453, b"2"), (448, b"P1"), (452, b"1"), (448, b"P2"), (452, b"3"), (386, b"0")]
    assert fix44_validator().validate(_message(b"D", body)) is None


def test_a_field_repeated_in_the_next_group_instance_is_not_a_repetition() -> None:
    body = [*ORDER, (386, b"2"), (336, b"PRE-OPEN"), (336, b"AFTER-HOURS")]
    assert fix44_validator().validate(_message(b"D", body)) is None


def test_a_group_instance_must_open_with_its_first_field() -> None:
    body = [*ORDER, (453, b"1"), (452, b"1"), (448, b"P1")]
    assert fix44_validator().validate(_message(b"D", body)) == Problem(RejectReason.TAG_OUT_OF_ORDER, 452)


def test_an_unknown_msg_type_is_invalid() -> None:
    assert fix44_validator().validate(_message(b"ZZ", [])) == Problem(RejectReason.INVALID_MSG_TYPE, 35)


def test_a_trailer_field_before_the_body_ends_is_out_of_order() -> None:
    body = [(93, b"3"), (112, b"x")]
    assert fix44_validator().validate(_message(b"1", body)) == Problem(RejectReason.TAG_OUT_OF_ORDER, 93)


def test_multiple_value_strings_check_each_value() -> None:
    validator = fix44_validator()
    assert validator.validate(_message(b"D", [*ORDER, (18, b"1 5")])) is None
    assert validator.validate(_message(b"D", [*ORDER, (18, b"1 ?")])) == Problem(
        RejectReason.VALUE_INCORRECT, 18
    )


def test_timestamps_are_checked_for_range() -> None:
    late = [(tag, b"20260102-24:00:00" if tag == 60 else value) for tag, value in ORDER]
    assert fix44_validator().validate(_message(b"D", late)) == Problem(RejectReason.INCORRECT_DATA_FORMAT, 60)


def test_the_dictionary_knows_fix44() -> None:
    dictionary = fix44()
    assert dictionary.begin_string == b"FIX.4.4"
    assert dictionary.messages[b"A"].required == (98, 108)
    assert dictionary.fields[54].values is not None
    assert b"1" in dictionary.fields[54].values


_TAGS = st.sampled_from(
    [11, 18, 21, 34, 38, 40, 44, 49, 52, 54, 55, 56, 60, 112, 336, 386, 453, 448, 452, 999]
)
_VALUES = st.sampled_from([b"", b"1", b"2", b"w", b"+3", b"1.5", b"0", b"P", NOW, b"1 5"])


@given(
    msg_type=st.sampled_from([b"D", b"0", b"1", b"F"]),
    body=st.lists(st.tuples(_TAGS, _VALUES), max_size=10),
    shuffled_header=st.permutations(HEADER),
)
def test_the_one_pass_check_never_accepts_what_the_full_check_rejects(
    msg_type: bytes, body: list[tuple[int, bytes]], shuffled_header: list[tuple[int, bytes]]
) -> None:
    validator = MessageValidator(fix44())
    message = _message(msg_type, body, shuffled_header)
    full = validator._first_problem(message)
    if validator._plainly_valid(message):
        assert full is None
