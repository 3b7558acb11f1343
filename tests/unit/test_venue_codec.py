"""FIX codec of the venue, checked against simplefix as an independent implementation."""

from __future__ import annotations

import pytest
import simplefix
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_exchange.fix.body import DATA_LENGTH_TAGS
from mock_exchange.fix.codec import FixMessage, FixStreamParser, byte_sum, checksum, encode
from mock_exchange.fix.dictionary import fix44

ORDER_FIELDS = [
    (35, b"D"),
    (49, b"OMS-A"),
    (56, b"MOCKEX"),
    (34, b"7"),
    (52, b"20260101-10:00:00.000"),
    (11, b"oms-a-1-1"),
    (55, b"BTC-USD"),
    (54, b"1"),
    (38, b"100"),
    (40, b"2"),
    (44, b"60000.5"),
    (58, b"text with = sign"),
]


def _simplefix_encode(fields: list[tuple[int, bytes]]) -> bytes:
    message = simplefix.FixMessage()
    message.append_pair(8, "FIX.4.4")
    for tag, value in fields:
        message.append_pair(tag, value)
    encoded: bytes = message.encode()
    return encoded


def _heartbeat(seq: int) -> bytes:
    return encode([(35, b"0"), (49, b"OMS-A"), (56, b"MOCKEX"), (34, b"%d" % seq)])


def test_encode_matches_simplefix_byte_for_byte() -> None:
    assert encode(ORDER_FIELDS) == _simplefix_encode(ORDER_FIELDS)


def test_simplefix_parses_what_we_encode() -> None:
    wire = encode(ORDER_FIELDS)
    parser = simplefix.FixParser()
    parser.append_buffer(wire)
    parsed = parser.get_message()
    assert parsed is not None
    assert parsed.get(9) == b"%d" % (len(wire) - wire.index(b"35=") - len(b"10=000\x01"))
    assert [(int(tag), value) for tag, value in parsed.pairs if int(tag) not in (8, 9, 10)] == ORDER_FIELDS


def test_round_trip_and_accessors() -> None:
    messages = FixStreamParser().feed(encode(ORDER_FIELDS))
    assert messages == [FixMessage(ORDER_FIELDS)]
    message = messages[0]
    assert message.msg_type == b"D"
    assert message.get(44) == b"60000.5"
    assert message.get_str(58) == "text with = sign"
    assert message.get(9999) is None


def test_checksum_and_body_length_are_computed() -> None:
    wire = encode([(35, b"0"), (34, b"1")])
    assert wire.startswith(b"8=FIX.4.4\x019=10\x0135=0\x0134=1\x01")
    assert wire.endswith(b"10=%03d\x01" % checksum(wire[: -len(b"10=000\x01")]))


def test_checksum_of_long_messages_is_exact() -> None:
    data = bytes(range(256)) * 9
    assert checksum(data) == sum(data) % 256


def test_messages_split_at_every_byte_are_reassembled() -> None:
    wire = _simplefix_encode(ORDER_FIELDS) + _heartbeat(8)
    parser = FixStreamParser()
    parsed = [message for byte in wire for message in parser.feed(bytes([byte]))]
    assert [message.msg_type for message in parsed] == [b"D", b"0"]
    assert parser.buffered == 0


def test_bad_checksum_frame_is_skipped_without_losing_the_next() -> None:
    good = _heartbeat(2)
    corrupt = bytearray(_heartbeat(1))
    corrupt[-3] = ord("9") if corrupt[-3] != ord("9") else ord("8")
    parser = FixStreamParser()
    parsed = parser.feed(bytes(corrupt) + good)
    assert [message.get(34) for message in parsed] == [b"2"]
    assert parser.discarded_frames == 1


def test_too_long_body_length_resynchronises_at_once() -> None:
    bogus = b"8=FIX.4.4\x019=900\x0135=0\x0134=1\x0110=000\x01"
    parsed = FixStreamParser().feed(bogus + _heartbeat(2))
    assert [message.get(34) for message in parsed] == [b"2"]


def test_too_short_body_length_is_garbage() -> None:
    bogus = b"8=FIX.4.4\x019=6\x0135=0\x0134=1\x0110=000\x01"
    parsed = FixStreamParser().feed(bogus + _heartbeat(2))
    assert [message.get(34) for message in parsed] == [b"2"]


def test_non_numeric_tag_is_garbage() -> None:
    body = b"35=0\x01ab=1\x01"
    head = b"8=FIX.4.4\x019=%d\x01" % len(body)
    bogus = head + body + b"10=%03d\x01" % checksum(head + body)
    parsed = FixStreamParser().feed(bogus + _heartbeat(2))
    assert [message.get(34) for message in parsed] == [b"2"]


def test_other_begin_string_and_noise_are_discarded() -> None:
    noise = b"hello\x01" + b"8=FIX.4.2\x019=5\x0135=0\x0110=000\x01" + b"8=FI"
    parser = FixStreamParser()
    parsed = parser.feed(noise + _heartbeat(3))
    assert [message.get(34) for message in parsed] == [b"3"]
    assert parser.buffered == 0


def test_incomplete_frame_waits_for_more_bytes() -> None:
    wire = _heartbeat(1)
    parser = FixStreamParser()
    assert parser.feed(wire[:-1]) == []
    assert parser.buffered == len(wire) - 1
    assert len(parser.feed(wire[-1:])) == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    parser = FixStreamParser()
    parser.feed(data)
    parser.feed(data[::-1])
    assert parser.buffered <= len(data) * 2


_ADVERSARIAL = st.one_of(
    st.binary(max_size=80),
    st.builds(lambda n: b"8=FIX.4.4\x019=%d\x01" % n, st.integers(0, 10_000)),
    st.sampled_from([b"8=FIX", b"8=FIX.4.4\x01", b"\x0110=", b"10=123\x01", b"\x01", b"35=0\x01"]),
)


@settings(max_examples=300, deadline=None)
@given(
    garbage=st.lists(_ADVERSARIAL, max_size=6).map(b"".join),
    count=st.integers(1, 4),
    chunk=st.integers(1, 64),
)
def test_valid_messages_after_garbage_are_all_recovered(garbage: bytes, count: int, chunk: int) -> None:
    valid = [_heartbeat(seq) for seq in range(1, count + 1)]
    stream = garbage + b"".join(valid)
    parser = FixStreamParser()
    parsed: list[FixMessage] = []
    for offset in range(0, len(stream), chunk):
        parsed += parser.feed(stream[offset : offset + chunk])
    assert [message.get(34) for message in parsed[-count:]] == [b"%d" % seq for seq in range(1, count + 1)]


# -- length-prefixed data fields -----------------------------------------------------------------

AWKWARD_DATA = b"a\x01b=c\x0110=123\x018=FIX.4.4\x019=5\x01x"  # SOH, '=', a trailer and a header inside


def _with_data(
    length_tag: int, data_tag: int, data: bytes, length: int | None = None
) -> list[tuple[int, bytes]]:
    fields = ORDER_FIELDS[:5]
    return [
        *fields,
        (length_tag, b"%d" % (len(data) if length is None else length)),
        (data_tag, data),
        *ORDER_FIELDS[5:],
    ]


def _simplefix_parse(wire: bytes) -> list[tuple[int, bytes]]:
    parser = simplefix.FixParser()
    parser.append_buffer(wire)
    parsed = parser.get_message()
    assert parsed is not None
    return [(int(tag), value) for tag, value in parsed.pairs if int(tag) not in (8, 9, 10)]


@pytest.mark.parametrize(("length_tag", "data_tag"), [(95, 96), (212, 213), (90, 91), (93, 89)])
def test_a_data_field_is_read_by_its_length(length_tag: int, data_tag: int) -> None:
    fields = _with_data(length_tag, data_tag, AWKWARD_DATA)
    parser = FixStreamParser()
    parsed = parser.feed(encode(fields) + _heartbeat(9))
    assert [message.fields for message in parsed] == [
        fields,
        [(35, b"0"), (49, b"OMS-A"), (56, b"MOCKEX"), (34, b"9")],
    ]
    assert parser.discarded_frames == 0
    if data_tag in (96, 213):  # the data fields simplefix knows: an independent reading
        assert _simplefix_parse(encode(fields)) == fields


def test_a_data_field_split_at_every_byte_is_reassembled() -> None:
    wire = encode(_with_data(212, 213, AWKWARD_DATA)) + _heartbeat(9)
    parser = FixStreamParser()
    parsed = [message for byte in wire for message in parser.feed(bytes([byte]))]
    assert [message.get(213) for message in parsed] == [AWKWARD_DATA, None]


@pytest.mark.parametrize("length", [len(AWKWARD_DATA) - 1, len(AWKWARD_DATA) + 1, 10_000])
def test_a_data_length_that_does_not_end_at_a_separator_is_garbage(length: int) -> None:
    bogus = encode(_with_data(95, 96, AWKWARD_DATA, length))
    parser = FixStreamParser()
    parsed = parser.feed(bogus + _heartbeat(9))
    assert [message.get(34) for message in parsed] == [b"9"]
    assert parser.discarded_frames >= 1


def test_a_data_field_without_its_length_ends_at_the_separator() -> None:
    fields = [*ORDER_FIELDS[:5], (96, b"plain"), *ORDER_FIELDS[5:]]
    (message,) = FixStreamParser().feed(encode(fields))
    assert message.fields == fields


def test_every_fix44_data_field_is_read_by_a_length_field() -> None:
    dictionary = fix44()
    data_tags = {tag for tag, spec in dictionary.fields.items() if spec.pattern is None}
    assert set(DATA_LENGTH_TAGS) == data_tags
    assert all(dictionary.fields[length].pattern == rb"[0-9]{1,18}" for length in DATA_LENGTH_TAGS.values())


@pytest.mark.parametrize("size", [255, 256, 257, 514, 515, 516, 5000])
@pytest.mark.parametrize("top", [0x7F, 0xFF])
def test_byte_sums_are_exact_at_every_chunk_boundary(size: int, top: int) -> None:
    data = bytes([top]) * size
    assert byte_sum(data) == top * size
    assert checksum(data) == (top * size) % 256
