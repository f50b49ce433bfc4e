"""Trait rules as properties: arrival order never changes the outcome; reserved names normalise."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from customers.traits import person_fields, time_key, traits_combine, traits_merge, traits_normalise

START = datetime(2026, 1, 1, tzinfo=UTC)
keys = st.sampled_from(["plan", "email", "seats", "firstName", "company"])
values = st.none() | st.integers(0, 9) | st.text(max_size=5)
updates = st.lists(
    st.tuples(st.integers(0, 10_000), st.dictionaries(keys, values, max_size=4)),
    max_size=12,
    unique_by=lambda u: u[0],
)


def apply(sequence: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    traits: dict[str, Any] = {}
    times: dict[str, str] = {}
    for seconds, incoming in sequence:
        traits, times, _ = traits_merge(traits, times, incoming, START + timedelta(seconds=seconds))
    return traits


@given(updates, st.randoms())
def test_arrival_order_does_not_change_the_merged_traits(
    sequence: list[tuple[int, dict[str, Any]]], rnd: Any
) -> None:
    shuffled = list(sequence)
    rnd.shuffle(shuffled)
    assert apply(shuffled) == apply(sorted(sequence, key=lambda u: u[0]))


@given(updates, updates)
def test_combining_two_records_equals_one_record_that_saw_every_call(
    first: list[tuple[int, dict[str, Any]]], second: list[tuple[int, dict[str, Any]]]
) -> None:
    taken = {s for s, _ in first}
    second = [(s, u) for s, u in second if s not in taken]

    def record(sequence: list[tuple[int, dict[str, Any]]]) -> tuple[dict[str, Any], dict[str, str]]:
        traits: dict[str, Any] = {}
        times: dict[str, str] = {}
        for seconds, incoming in sorted(sequence, key=lambda u: u[0]):
            traits, times, _ = traits_merge(traits, times, incoming, START + timedelta(seconds=seconds))
        return traits, times

    a, a_times = record(first)
    b, b_times = record(second)
    combined, _ = traits_combine(a, a_times, b, b_times)
    assert combined == apply(sorted(first + second, key=lambda u: u[0]))


def test_null_clears_and_the_inputs_are_not_modified() -> None:
    traits = {"plan": "pro", "seats": 3}
    times = {"plan": "2026-01-01T00:00:00.000000Z", "seats": "2026-01-01T00:00:00.000000Z"}

    new, new_times, changed = traits_merge(traits, times, {"seats": None}, START + timedelta(days=1))

    assert changed
    assert new == {"plan": "pro"}
    assert traits == {"plan": "pro", "seats": 3}
    assert new_times["seats"] > times["seats"]


def test_snake_case_reserved_traits_become_camel_case_and_camel_case_wins_a_tie() -> None:
    assert traits_normalise(
        {
            "first_name": "a",
            "firstName": "b",
            "created_at": 1,
            "address": {"postal_code": "9000"},
            "my_trait": 1,
        }
    ) == {
        "firstName": "b",
        "createdAt": 1,
        "address": {"postalCode": "9000"},
        "my_trait": 1,
    }


@given(
    st.dictionaries(
        st.text(max_size=12),
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=20)
        | st.lists(st.integers(), max_size=2),
        max_size=8,
    )
)
def test_typed_fields_never_raise_whatever_the_traits(traits: dict[str, Any]) -> None:
    fields = person_fields(traits, "en-GB")
    assert fields.email == "" or "@" in fields.email


def test_trait_times_before_the_year_1000_still_compare_as_moments() -> None:
    early, late = datetime(999, 1, 1, tzinfo=UTC), datetime(1000, 1, 1, tzinfo=UTC)
    assert time_key(early) < time_key(late)
    assert len(time_key(early)) == len(time_key(late))


def test_a_time_key_is_the_moment_in_utc_to_the_microsecond() -> None:
    """The format trait_times already hold: a new way of writing it must write the same text."""
    from datetime import timezone

    paris = timezone(timedelta(hours=2))
    assert time_key(datetime(2026, 3, 2, 11, 0, tzinfo=paris)) == "2026-03-02T09:00:00.000000Z"
    assert time_key(datetime(2026, 3, 2, 9, 0, 0, 1500, tzinfo=UTC)) == "2026-03-02T09:00:00.001500Z"
    assert time_key(datetime(999, 1, 1, tzinfo=UTC)) == "0999-01-01T00:00:00.000000Z"


def test_an_email_the_record_holds_already_is_not_validated_again_and_a_new_one_is() -> None:
    assert (
        person_fields({"email": "Ann@Example.com"}, valid_email="ann@example.com").email == "ann@example.com"
    )
    changed = person_fields({"email": "not an email"}, valid_email="ann@example.com")
    assert (changed.email, changed.notes) == ("", ["email not valid: 'not an email'"])
