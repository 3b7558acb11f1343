import pytest
from pydantic import BaseModel, ValidationError

from gameday.scenario import Duration, parse_duration


@pytest.mark.parametrize(("text", "ns"), [
    ("100ms", 100_000_000),
    ("2.5s", 2_500_000_000),
    ("1m", 60_000_000_000),
    ("1h", 3_600_000_000_000),
    ("250us", 250_000),
    (" 30 s ", 30_000_000_000),
    (".5s", 500_000_000),
    ("7", 7_000_000_000),
    (7, 7_000_000_000),
    (0.1, 100_000_000),
    (0, 0),
])
def test_parse(text: object, ns: int) -> None:
    assert parse_duration(text) == Duration(ns)


@pytest.mark.parametrize("bad", ["soon", "10 parsecs", "-1s", "1.2.3s", "", True, None, -3, [1], "1e3s"])
def test_parse_refuses_what_is_not_a_duration(bad: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(bad)


@pytest.mark.parametrize(("ns", "text"), [
    (10_000_000_000, "10s"), (100_000_000, "100ms"), (2_500_000_000, "2.5s"), (60_000_000_000, "1m"),
    (90_000_000_000, "90s"), (1_500_000, "1.5ms"), (0, "0s"), (7_200_000_000_000, "2h"),
    (1_000_000_001, "1.000000001s"),
])
def test_text_round_trips(ns: int, text: str) -> None:
    assert str(Duration(ns)) == text
    assert parse_duration(text) == Duration(ns)


def test_seconds_and_order() -> None:
    assert Duration(2_500_000_000).seconds == 2.5
    assert Duration.of_seconds(0.3) == Duration(300_000_000)
    assert Duration(1) < Duration(2)
    with pytest.raises(ValueError, match="negative"):
        Duration(-1)


class _Holder(BaseModel):
    span: Duration


def test_pydantic_field_parses_and_serialises_as_text() -> None:
    holder = _Holder.model_validate({"span": "1.5s"})

    assert holder.span == Duration(1_500_000_000)
    assert holder.model_dump(mode="json") == {"span": "1.5s"}
    assert _Holder.model_validate_json(holder.model_dump_json()) == holder
    with pytest.raises(ValidationError, match="expected a duration"):
        _Holder.model_validate({"span": "later"})
