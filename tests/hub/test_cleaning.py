"""The one cleaner for text and JSON from outside: total, bounded, and safe for PostgreSQL and headers."""

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.cleaning import (
    MAX_JSON_DEPTH,
    TOO_DEEP,
    JSONInvalid,
    clean_json,
    clean_text,
    json_object_parse,
    nested_too_deep,
    parse_id,
    parse_json,
    unstorable_problem,
)
from hub.errors import RequestError

# Every code point, lone surrogates included (what Python's json and form decoding can produce).
any_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)


def deep(levels: int) -> object:
    value: object = "x"
    for n in range(levels):
        value = {"a": value} if n % 2 else [value]
    return value


@given(any_text)
def test_clean_text_is_storable_and_single_line(value: str) -> None:
    cleaned = clean_text(value)
    cleaned.encode("utf-8")  # no lone surrogate left
    assert "\x00" not in cleaned
    assert not any(c in cleaned for c in "\r\n\x0b\x0c\x1b\x85\u2028\u2029")
    assert len(cleaned) <= len(value)


@given(any_text)
def test_multiline_text_keeps_its_lines_but_nothing_unstorable(value: str) -> None:
    cleaned = clean_text(value, multiline=True, max_length=10)
    cleaned.encode("utf-8")
    assert "\x00" not in cleaned
    assert len(cleaned) <= 10
    assert cleaned.count("\n") == value[:10].count("\n") or len(value) > 10


def test_header_injection_becomes_one_line() -> None:
    assert clean_text("Ann\r\nBcc: x@example.com") == "Ann Bcc: x@example.com"
    assert clean_text("u\x00x") == "u\ufffdx"
    assert clean_text("line\none", multiline=True) == "line\none"


@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 254, 1000, 100_000])
def test_deep_json_is_too_deep_without_recursing(levels: int) -> None:
    value = deep(levels)

    assert nested_too_deep(value)
    cleaned, cut = clean_json(value)
    assert cut
    assert TOO_DEEP in orjson.dumps(cleaned).decode()
    assert not nested_too_deep(cleaned)


def test_json_within_the_limit_is_copied_with_storable_strings() -> None:
    value = {"k\x00": ["v\x00", {"n": 1, "b": None}], "deep": deep(MAX_JSON_DEPTH - 1)}

    cleaned, cut = clean_json(value)

    assert not cut
    assert cleaned["k\ufffd"] == ["v\ufffd", {"n": 1, "b": None}]
    assert cleaned["deep"] == deep(MAX_JSON_DEPTH - 1)
    assert not nested_too_deep(deep(MAX_JSON_DEPTH))


def test_parse_json_refuses_bad_and_deep_text() -> None:
    assert parse_json(b'{"a": [1]}') == {"a": [1]}
    with pytest.raises(JSONInvalid, match="not valid JSON"):
        parse_json(b"{")
    with pytest.raises(JSONInvalid, match="levels deep"):
        parse_json("[" * 500 + "]" * 500)


@pytest.mark.parametrize(
    ("raw", "max_depth", "message"),
    [
        (b"{", MAX_JSON_DEPTH, "This is not valid JSON: "),
        (b"[1]", MAX_JSON_DEPTH, "The body must be a JSON object."),
        (b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", MAX_JSON_DEPTH, "levels deep"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused_as_a_whole(
    raw: bytes, max_depth: int, message: str
) -> None:
    with pytest.raises(RequestError) as refused:
        json_object_parse(raw, max_depth=max_depth)

    assert (refused.value.status, refused.value.code) == (400, "invalid_json")
    assert message in refused.value.message


def test_a_body_of_any_depth_is_read_when_the_caller_checks_depth_itself() -> None:
    raw = b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}"

    assert nested_too_deep(json_object_parse(raw, max_depth=None), MAX_JSON_DEPTH)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("²", None),
        ("٣", None),
        ("-1", None),
        ("", None),
        ("9" * 19, None),
        (" 1", None),
        (7, None),
    ],
)
def test_parse_id_takes_ascii_digits_in_bigint_range(text: object, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_text_that_cannot_be_stored_is_named_where_it_is_for_the_admin_and_the_api() -> None:
    assert unstorable_problem({"triggers": [{"source": "web\x00app"}]}) == (
        "U+0000 (NUL) cannot be stored (triggers[0].source)."
    )
    assert unstorable_problem("a\x00") == "U+0000 (NUL) cannot be stored (the body)."
    assert unstorable_problem({"triggers": [{"source": "web"}]}) is None
