"""Each transform on the values customers really send, and the problem staff read when one fails."""

from typing import Any

import pytest

from integrations.mappings import TRANSFORMS, mapping_apply
from integrations.models import MappingRule
from tests.integrations.mappings.helpers import compiled, rule


def mapped(transform: str, value: Any, **fields: Any) -> tuple[Any, list[str]]:
    mapping = compiled(rule("traits.value", "out", transform, **fields))
    result = mapping_apply(mapping=mapping, call={"type": "identify", "traits": {"value": value}})
    return result.output.get("out"), result.problems


def test_every_transform_staff_can_choose_is_implemented() -> None:
    assert set(MappingRule.Transform.values) - {""} == set(TRANSFORMS)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2023-11-14T22:13:20.600Z", 1700000000),
        ("2023-11-14T22:13:20Z", 1700000000),
        ("2023-11-14T23:13:20.999+01:00", 1700000000),
        ("2015-2-02T00:30:08.276Z", 1422837008),  # Segment's own non-padded example
        (1700000000, 1700000000),
        (1700000000600, 1700000000),  # milliseconds
        ("1700000000", 1700000000),
        ("1969-12-31T23:59:58.500Z", -2),  # floor, also before 1970
    ],
)
def test_unix_seconds_rounds_down(value: Any, seconds: int) -> None:
    assert mapped("unix_seconds", value) == (seconds, [])


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2023-11-14T22:13:20.600Z", 1700000001),
        ("2023-11-14T22:13:20.500Z", 1700000001),  # half up, as Math.round
        ("2023-11-14T22:13:20.499999Z", 1700000000),
        ("2023-11-14T22:13:20Z", 1700000000),
        (1700000000500, 1700000001),
        (1700000000.4, 1700000000),
        ("1969-12-31T23:59:58.500Z", -1),  # Math.round(-1.5) is -1
    ],
)
def test_unix_seconds_rounded_rounds_half_up_to_the_nearest_second(value: Any, seconds: int) -> None:
    assert mapped("unix_seconds_rounded", value) == (seconds, [])


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2023-11-14T23:13:20.6+01:00", "2023-11-14T22:13:20.600Z"),
        ("2019-03-01", "2019-03-01T00:00:00.000Z"),
        (1700000000, "2023-11-14T22:13:20.000Z"),
    ],
)
def test_iso_datetime_writes_utc_with_milliseconds(value: Any, iso: str) -> None:
    assert mapped("iso_datetime", value) == (iso, [])


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("1990-05-17T00:00:00+02:00", "1990-05-17"),  # the date as written, not the UTC date
        ("1990-5-7", "1990-05-07"),
        ("2023-11-14T22:13:20.600Z", "2023-11-14"),
        (1700000000, "2023-11-14"),
    ],
)
def test_iso_date_keeps_the_written_day(value: Any, day: str) -> None:
    assert mapped("iso_date", value) == (day, [])


@pytest.mark.parametrize(
    ("value", "text"),
    [("x", "x"), (42, "42"), (42.0, "42"), (4.5, "4.5"), (True, "true"), (False, "false")],
)
def test_string_writes_values_as_javascript_does(value: Any, text: str) -> None:
    assert mapped("string", value) == (text, [])


def test_lower_case() -> None:
    assert mapped("lower", "Ann@Example.COM") == ("ann@example.com", [])


@pytest.mark.parametrize(
    ("transform", "value", "problem"),
    [
        ("unix_seconds", "next tuesday", "out: traits.value 'next tuesday' is not a date"),
        ("unix_seconds_rounded", True, "out: traits.value true is not a date"),
        ("iso_datetime", {"day": 1}, 'out: traits.value {"day": 1} is not a date'),
        ("iso_date", "1990-02-30", "out: traits.value '1990-02-30' is not a date"),
        ("string", [1, 2], "out: traits.value [1, 2] is not text or a number"),
        ("lower", {"a": "B"}, 'out: traits.value {"a": "B"} is not text or a number'),
    ],
)
def test_a_value_that_cannot_be_converted_is_a_problem_naming_rule_and_value(
    transform: str, value: Any, problem: str
) -> None:
    assert mapped(transform, value) == (None, [problem])


def test_a_long_unconvertible_value_is_shortened_in_the_problem() -> None:
    _, problems = mapped("iso_date", "x" * 500)
    assert problems == [f"out: traits.value '{'x' * 57}...' is not a date"]
