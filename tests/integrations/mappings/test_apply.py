"""mapping_apply: where values are found, where they go, and what staff are told when they are not."""

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.mappings import mapping_apply
from tests.integrations.mappings.helpers import PRESETS_MIGRATION, compiled, rule


def apply(
    *rules: Any, call: dict[str, Any], call_types: tuple[str, ...] = ()
) -> tuple[dict[str, Any], list[str]]:
    result = mapping_apply(mapping=compiled(*rules, call_types=call_types), call=call)
    return result.output, result.problems


def identify(**traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": "u1", "traits": traits}


def test_a_path_reaches_into_nested_objects_and_top_level_fields() -> None:
    call = {
        "type": "track",
        "userId": "u1",
        "event": "Order Completed",
        "properties": {"plan": "pro", "items": [{"sku": "A-1"}]},
        "context": {"locale": "nl-BE", "traits": {"address": {"city": "Gent"}}},
    }
    output, problems = apply(
        rule("userId", "user"),
        rule("event", "feature"),
        rule("properties.plan", "plan"),
        rule("properties.items.0.sku", "first_sku"),
        rule("context.locale", "locale"),
        rule("context.traits.address.city", "city"),
        call=call,
    )
    assert output == {
        "user": "u1",
        "feature": "Order Completed",
        "plan": "pro",
        "first_sku": "A-1",
        "locale": "nl-BE",
        "city": "Gent",
    }
    assert problems == []


def test_camel_case_paths_find_snake_case_traits_and_back() -> None:
    rules = [
        rule("traits.firstName", "first"),
        rule("traits.last_name", "last"),
        rule("traits.createdAt", "created"),
        rule("traits.updated_at", "updated"),
        rule("traits.address.postalCode", "zip"),
    ]
    snake = identify(
        first_name="Ann", last_name="Lee", created_at="c", updated_at="u", address={"postal_code": "9000"}
    )
    camel = identify(
        firstName="Ann", lastName="Lee", createdAt="c", updatedAt="u", address={"postalCode": "9000"}
    )
    expected = {"first": "Ann", "last": "Lee", "created": "c", "updated": "u", "zip": "9000"}
    assert apply(*rules, call=snake) == (expected, [])
    assert apply(*rules, call=camel) == (expected, [])


def test_the_spelling_as_written_wins_when_a_call_has_both() -> None:
    call = identify(firstName="Ann", first_name="Annie")
    assert apply(rule("traits.firstName", "a"), rule("traits.first_name", "b"), call=call)[0] == {
        "a": "Ann",
        "b": "Annie",
    }


def test_several_paths_take_the_first_that_has_a_value() -> None:
    email = rule("traits.email|context.traits.email|properties.email", "email")
    call = {"type": "track", "traits": {"email": "  "}, "context": {"traits": {"email": None}}}
    assert apply(email, call={**call, "properties": {"email": "p@example.com"}})[0] == {
        "email": "p@example.com"
    }
    assert apply(email, call={**call, "traits": {"email": "t@example.com"}})[0] == {"email": "t@example.com"}


def test_a_missing_optional_value_is_left_out() -> None:
    assert apply(rule("traits.phone", "phone"), rule("traits.title", "title"), call=identify(title="")) == (
        {},
        [],
    )


def test_a_default_fills_in_for_a_missing_value() -> None:
    module = rule("properties.module_id", "module_id", default="General")
    call = {"type": "track", "event": "Project Created", "properties": {}}
    assert apply(module, call=call) == ({"module_id": "General"}, [])
    call["properties"] = {"module_id": "Reports"}
    assert apply(module, call=call) == ({"module_id": "Reports"}, [])


def test_a_missing_required_value_is_a_problem() -> None:
    output, problems = apply(
        rule("traits.account_id", "account_id", required=True),
        rule("traits.user_id|userId", "user_id", required=True),
        call={"type": "identify", "traits": {"email": "a@example.com"}},
    )
    assert output == {}
    assert problems == [
        "account_id: required, but the call has no traits.account_id",
        "user_id: required, but the call has no traits.user_id or userId",
    ]


def test_a_required_value_with_a_default_is_never_missing() -> None:
    assert apply(rule("traits.plan", "plan", required=True, default="free"), call=identify()) == (
        {"plan": "free"},
        [],
    )


def test_an_unconvertible_value_is_reported_once_and_replaced_by_the_default() -> None:
    created = rule("traits.createdAt", "created_on", "iso_datetime", required=True, default="1970-01-01")
    output, problems = apply(created, call=identify(createdAt="next tuesday"))
    assert output == {"created_on": "1970-01-01"}
    assert problems == ["created_on: traits.createdAt 'next tuesday' is not a date"]


def test_dotted_targets_nest() -> None:
    output, _ = apply(
        rule("traits.team", "keyValues.team"),
        rule("traits.plan", "keyValues.plan"),
        rule("traits.email", "email"),
        call=identify(team="Brugge", plan="pro", email="a@example.com"),
    )
    assert output == {"email": "a@example.com", "keyValues": {"team": "Brugge", "plan": "pro"}}


def test_two_rules_writing_the_same_field_are_reported_not_merged() -> None:
    output, problems = apply(
        rule("traits.team", "keyValues"),
        rule("traits.plan", "keyValues.plan"),
        call=identify(team="Brugge", plan="pro"),
    )
    assert output == {"keyValues": "Brugge"}
    assert problems == ["keyValues.plan: the target field clashes with keyValues"]


def test_a_lookup_table_translates_values_case_insensitively_with_a_language_fallback() -> None:
    language = rule(
        "traits.language|context.locale",
        "language_UniqueID",
        "lookup",
        options={"table": {"EN": "8c6b-en", "nl": "51d2-nl"}},
    )
    assert apply(language, call=identify(language="en"))[0] == {"language_UniqueID": "8c6b-en"}
    locale_only = {"type": "identify", "context": {"locale": "nl-BE"}, "traits": {}}
    assert apply(language, call=locale_only)[0] == {"language_UniqueID": "51d2-nl"}
    assert apply(language, call=identify(language="fr")) == (
        {},
        ["language_UniqueID: traits.language 'fr' is not in the lookup table"],
    )


def test_custom_attributes_are_plain_rules_by_their_api_name() -> None:
    output, _ = apply(
        rule("traits.plan", "plan"), rule("traits.seats", "seats_c"), call=identify(plan="pro", seats=7)
    )
    assert output == {"plan": "pro", "seats_c": 7}


def test_a_call_of_another_type_is_reported() -> None:
    call = {"type": "track", "event": "x", "properties": {"email": "a@example.com"}}
    output, problems = apply(rule("properties.email", "email"), call=call, call_types=("identify", "group"))
    assert output == {"email": "a@example.com"}
    assert problems == ["this mapping is for group, identify calls, not track calls"]


def test_a_misconfigured_rule_reports_itself_and_the_others_still_map() -> None:
    output, problems = apply(
        rule("traits..city", "city"),
        rule("traits.language", "language_UniqueID", "lookup", options={}),
        rule("traits.email", "email"),
        call=identify(email="a@example.com", language="en", address={"city": "Gent"}),
    )
    assert output == {"email": "a@example.com"}
    assert problems == [
        "city: 'traits..city' is not a path: write names separated by dots, e.g. traits.address.city.",
        'language_UniqueID: A lookup needs a table: {"table": {"en": "<value for en>", ...}}.',
    ]


# --- never raises -------------------------------------------------------------------------------

KEYS = st.sampled_from(
    ["type", "traits", "properties", "context", "address", "createdAt", "created_at", "email", "0", "1", "x"]
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)
PATHS = st.lists(KEYS, min_size=1, max_size=4).map(".".join)
TRANSFORM_NAMES = st.sampled_from(
    ["", "unix_seconds", "unix_seconds_rounded", "iso_datetime", "iso_date", "string", "lower", "lookup"]
)
RULES = st.lists(
    st.builds(
        rule,
        source=st.lists(PATHS, min_size=1, max_size=3).map("|".join),
        target=PATHS,
        transform=TRANSFORM_NAMES,
        options=st.one_of(JSON, st.fixed_dictionaries({"table": st.dictionaries(st.text(max_size=5), JSON)})),
        default=JSON,
        required=st.booleans(),
    ),
    max_size=6,
)
PRESET_RULES = [
    rule(source, target, transform, options=options, default=default, required=required)
    for preset in PRESETS_MIGRATION.PRESETS
    for (source, target, transform, options, default, required) in preset["rules"]
]


@settings(max_examples=300, deadline=None)
@given(call=JSON | st.dictionaries(KEYS, JSON), rules=RULES)
def test_mapping_apply_never_raises_and_returns_json(call: Any, rules: list[Any]) -> None:
    for mapping in (compiled(*rules), compiled(*PRESET_RULES, call_types=("identify",))):
        result = mapping_apply(mapping=mapping, call=call)
        json.dumps(result.output)  # what a connector sends
        assert all(isinstance(problem, str) for problem in result.problems)


def test_a_call_that_is_not_an_object_is_a_problem() -> None:
    result = mapping_apply(mapping=compiled(rule("traits.email", "email")), call=[1, 2])  # type: ignore[arg-type]
    assert result.output == {}
    assert result.problems == ['a Segment call is a JSON object, e.g. {"type": "identify", "traits": {}}']
