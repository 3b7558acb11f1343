"""Message shapes (mock_exchange.fix.shapes): a learned layout parses a body in one match, and
accepts exactly what the general parser and the full FIX 4.4 validation accept."""

from __future__ import annotations

from hypothesis import event, given, settings
from hypothesis import strategies as st

from mock_exchange.fix.codec import FixMessage, FixStreamParser, encode
from mock_exchange.fix.shapes import SHAPES_PER_MSG_TYPE, MessageShapes, ShapeCompiler
from mock_exchange.fix.validation import fix44_validator

NOW = b"20260102-03:04:05.678"
HEADER = [(49, b"OMS-A"), (56, b"MOCKEX"), (34, b"2"), (52, NOW)]
ORDER = [(11, b"c-1"), (55, b"BTC-USD"), (54, b"1"), (38, b"10"), (40, b"2"), (44, b"1.5"), (60, NOW)]

# per tag: values the dictionary accepts, and values it refuses (format, enumeration, empty)
VALUES: dict[int, tuple[list[bytes], list[bytes]]] = {
    49: ([b"OMS-A", b"a=b"], [b""]),
    56: ([b"MOCKEX"], [b""]),
    34: ([b"2", b"17"], [b"-2", b"x", b""]),
    52: ([NOW, b"20260102-03:04:05"], [b"20260102-24:00:00", b"2026-01-02", b""]),
    50: ([b"oms-a"], [b""]),
    43: ([b"Y", b"N"], [b"y"]),
    11: ([b"c-1", b"c 2"], [b""]),
    55: ([b"BTC-USD"], [b""]),
    54: ([b"1", b"2"], [b"Z", b"11", b""]),
    38: ([b"10", b"1.5", b".5", b"-3", b"1."], [b"1e5", b"x", b"--1"]),
    40: ([b"1", b"2"], [b"0", b"22"]),
    44: ([b"1.5", b"7"], [b"1.2.3", b""]),
    59: ([b"0", b"3"], [b"9"]),
    60: ([NOW], [b"20261301-00:00:00"]),
    18: ([b"1", b"1 5"], [b"1 ?", b"1  5", b"5 "]),
    21: ([b"1"], [b"4"]),
    58: ([b"text with = sign"], [b""]),
    1: ([b"ACC"], [b""]),
}
OPTIONAL = [50, 43, 59, 18, 21, 58, 1, 44]


def _frame(fields: list[tuple[int, bytes]]) -> bytes:
    return encode(fields)


def _general(frame: bytes) -> FixMessage:
    (message,) = FixStreamParser().feed(frame)
    return message


def _shapes() -> MessageShapes:
    return MessageShapes(ShapeCompiler(fix44_validator()))  # nothing compiled yet


def _learned(shapes: MessageShapes, fields: list[tuple[int, bytes]]) -> None:
    """``fields`` learned as a valid message's layout, seen twice (so it is compiled)."""
    message = _general(_frame(fields))
    assert fix44_validator().validate(message) is None
    shapes.learn(message)
    shapes.learn(message)


def test_a_layout_seen_once_is_not_compiled() -> None:
    shapes = _shapes()
    fields = [(35, b"D"), *HEADER, *ORDER]
    shapes.learn(_general(_frame(fields)))
    (message,) = FixStreamParser(shapes=shapes).feed(_frame(fields))
    assert not message.prevalidated


def test_a_learned_layout_parses_the_next_message_of_that_layout_in_one_match() -> None:
    shapes = _shapes()
    _learned(shapes, [(35, b"D"), *HEADER, *ORDER])
    other = [(35, b"D"), *HEADER[:2], (34, b"3"), HEADER[3], (11, b"c-2"), *ORDER[1:]]
    (message,) = FixStreamParser(shapes=shapes).feed(_frame(other))
    assert message.prevalidated
    assert message.fields == other
    assert message == _general(_frame(other))
    assert (message.msg_type, message.get(11), message.get(999)) == (b"D", b"c-2", None)


def test_a_value_the_dictionary_refuses_takes_the_general_path() -> None:
    shapes = _shapes()
    _learned(shapes, [(35, b"D"), *HEADER, *ORDER])
    bad_side = [(35, b"D"), *HEADER, *[(tag, b"Z" if tag == 54 else value) for tag, value in ORDER]]
    (message,) = FixStreamParser(shapes=shapes).feed(_frame(bad_side))
    assert not message.prevalidated
    assert fix44_validator().validate(message) is not None


def test_layouts_with_a_group_or_a_data_field_are_not_shaped() -> None:
    shapes = _shapes()
    grouped = [(35, b"D"), *HEADER, *ORDER, (453, b"1"), (448, b"P1"), (452, b"1")]
    with_data = [(35, b"D"), *HEADER, (90, b"3"), (91, b"abc"), *ORDER]
    for fields in (grouped, with_data):
        _learned(shapes, fields)
        (message,) = FixStreamParser(shapes=shapes).feed(_frame(fields))
        assert not message.prevalidated


def test_a_connection_keeps_the_latest_layouts_of_each_msg_type() -> None:
    shapes = _shapes()
    tails = [[], [(59, b"1")], [(1, b"ACC")], [(58, b"x")], [(21, b"1")]]
    layouts = [[(35, b"D"), *HEADER, *ORDER, *tail] for tail in tails]
    for fields in layouts:
        _learned(shapes, fields)
    parser = FixStreamParser(shapes=shapes)
    parsed = [parser.feed(_frame(fields))[0].prevalidated for fields in layouts]
    kept = [False] * (len(layouts) - SHAPES_PER_MSG_TYPE) + [True] * SHAPES_PER_MSG_TYPE
    assert parsed == kept


_LAYOUTS = st.tuples(
    st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=5),
    st.permutations([49, 56, 34, 52]),
    st.integers(min_value=0, max_value=3),
)


@st.composite
def _layout_and_values(draw: st.DrawFn) -> tuple[list[int], list[bytes], list[bytes]]:
    optional, header, header_in_order = draw(_LAYOUTS)
    tags = [49, 56, 34, 52] if header_in_order else list(header)  # 0: shuffled
    tags += [tag for tag in optional if tag in (50, 43)]
    tags += [11, 55, 54, 38, 40, 60] + [tag for tag in optional if tag not in (50, 43)]
    return tags, [_value(draw, tag) for tag in tags], [_value(draw, tag) for tag in tags]


def _value(draw: st.DrawFn, tag: int) -> bytes:
    valid, invalid = VALUES[tag]
    # mostly valid values, so that most layouts get learned
    return draw(st.sampled_from(valid if draw(st.sampled_from(range(15))) else invalid))


@settings(max_examples=400, deadline=None)
@given(_layout_and_values())
def test_a_shape_accepts_exactly_what_the_full_validation_accepts(
    layout: tuple[list[int], list[bytes], list[bytes]],
) -> None:
    tags, first, second = layout
    shapes = _shapes()
    learned = _general(_frame([(35, b"D"), *zip(tags, first, strict=True)]))
    if fix44_validator().validate(learned) is None:
        shapes.learn(learned)
        shapes.learn(learned)
    fields = [(35, b"D"), *zip(tags, second, strict=True)]
    (shaped,) = FixStreamParser(shapes=shapes).feed(_frame(fields))
    general = _general(_frame(fields))
    valid = fix44_validator()._first_problem(general) is None
    event(f"valid={valid} shaped={shaped.prevalidated}")
    if shaped.prevalidated:
        assert valid
        assert shaped.fields == general.fields
    elif valid and FixStreamParser(shapes=shapes).feed(_frame(learned.fields))[0].prevalidated:
        raise AssertionError(f"a valid message of a learned layout missed its shape: {fields}")
