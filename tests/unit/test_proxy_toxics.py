"""Toxic models and pure pieces: attribute decoding and validation, slicing, Go-style JSON."""

from __future__ import annotations

import itertools
import json
import random

import pytest

from gameday.proxy import TOXIC_TYPES, gojson
from gameday.proxy.toxics import InvalidAttribute, LatencyAttrs, SlicerToxic, build_toxic


def test_registry_has_every_toxiproxy_type() -> None:
    assert set(TOXIC_TYPES) == {
        "latency",
        "bandwidth",
        "slow_close",
        "timeout",
        "reset_peer",
        "slicer",
        "limit_data",
        "noop",
    }


@pytest.mark.parametrize(
    ("type_name", "attributes"),
    [
        ("latency", {"latency": 0, "jitter": 0}),
        ("bandwidth", {"rate": 0}),
        ("slow_close", {"delay": 0}),
        ("timeout", {"timeout": 0}),
        ("reset_peer", {"timeout": 0}),
        ("slicer", {"average_size": 0, "size_variation": 0, "delay": 0}),
        ("limit_data", {"bytes": 0}),
        ("noop", {}),
    ],
)
def test_missing_attributes_default_to_zero(type_name: str, attributes: dict[str, int]) -> None:
    assert build_toxic(type_name, None).attrs.to_json() == attributes


def test_attributes_merge_case_insensitively_and_ignore_unknown_keys() -> None:
    attrs = LatencyAttrs(latency=100, jitter=5).merged(gojson.parse(b'{"JITTER": 7, "other": 1}'), "x")
    assert attrs == LatencyAttrs(latency=100, jitter=7)


@pytest.mark.parametrize("type_name", sorted(set(TOXIC_TYPES) - {"noop"}))
def test_negative_attributes_are_taken_as_toxiproxy_takes_them(type_name: str) -> None:
    fields = build_toxic(type_name, None).attrs.to_json()
    body = gojson.parse(json.dumps({name: -(2**63) for name in fields}).encode())
    assert build_toxic(type_name, body).attrs.to_json() == {name: -(2**63) for name in fields}


def test_an_attribute_beyond_int64_is_refused_as_go_refuses_it() -> None:
    with pytest.raises(gojson.DecodeError, match=r"^json: cannot unmarshal number -9223372036854775809 into"):
        build_toxic("bandwidth", gojson.parse(b'{"rate": -9223372036854775809}'))


def test_an_attribute_over_its_maximum_is_invalid() -> None:
    with pytest.raises(InvalidAttribute, match="rate must be at most 1000000000"):
        build_toxic("bandwidth", gojson.parse(b'{"rate": 1000000001}'))


@pytest.mark.parametrize(("average", "variation"), [(0, 0), (-5, 0), (0, 3), (-1, -1), (2, -7)])
def test_slicer_below_one_byte_slices_into_bytes(average: int, variation: int) -> None:
    """Toxiproxy panics on these (rand.Intn of 0 or less); here each slice is 1 byte or more."""
    toxic = build_toxic(
        "slicer", gojson.parse(f'{{"average_size": {average}, "size_variation": {variation}}}'.encode())
    )
    assert isinstance(toxic, SlicerToxic)
    cuts = toxic.cuts(0, 300, random.Random(2))
    assert [start for start, _ in cuts[1:]] == [end for _, end in cuts[:-1]]
    assert (cuts[0][0], cuts[-1][1]) == (0, 300)
    assert all(1 <= end - start <= max(average, 1) + max(variation, 0) for start, end in cuts)
    if average <= 1 and variation <= 0:
        assert len(cuts) == 300


@pytest.mark.parametrize(("average", "variation"), [(1, 0), (10, 3), (100, 99), (7, 50)])
def test_slicer_cuts_cover_the_chunk_in_order(average: int, variation: int) -> None:
    toxic = build_toxic(
        "slicer", gojson.parse(f'{{"average_size": {average}, "size_variation": {variation}}}'.encode())
    )
    assert isinstance(toxic, SlicerToxic)
    cuts = toxic.cuts(0, 5000, random.Random(1))
    assert cuts[0][0] == 0
    assert cuts[-1][1] == 5000
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(cuts))
    assert all(end > start for start, end in cuts)
    if variation < average:
        assert all(end - start <= average + variation for start, end in cuts)


def test_parse_reads_only_the_first_value() -> None:
    assert gojson.decode_struct(gojson.parse(b' {"name": "a"} trailing'), {"name": str}, "P") == {"name": "a"}


@pytest.mark.parametrize(
    ("raw", "message"), [(b"", "EOF"), (b"  \n", "EOF"), (b'{"name":', "unexpected EOF")]
)
def test_parse_errors_read_like_go(raw: bytes, message: str) -> None:
    with pytest.raises(gojson.DecodeError, match=f"^{message}$"):
        gojson.parse(raw)


def test_wrong_type_names_the_go_type() -> None:
    with pytest.raises(gojson.DecodeError) as caught:
        gojson.decode_struct(gojson.parse(b'{"enabled": "yes"}'), {"enabled": bool}, "toxiproxy.Proxy")
    assert str(caught.value) == (
        "json: cannot unmarshal string into Go struct field toxiproxy.Proxy.enabled of type bool"
    )


def test_go_number_prints_whole_floats_as_integers() -> None:
    assert gojson.dumps({"t": gojson.go_number(1.0), "u": gojson.go_number(0.5)}) == '{"t":1,"u":0.5}'
