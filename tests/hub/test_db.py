"""hub/db.py: `row_exists` answers as the ORM's `filter(...).exists()` does, without building a query;
`bulk_create` and `bulk_update` store what the ORM's do, and `model_from_row` builds what it loads;
`bulk_insert` stores plain columns with the other fields' defaults."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Person
from hub.db import (
    binary_rows,
    bulk_create,
    bulk_insert,
    bulk_update,
    model_columns,
    model_from_row,
    row_exists,
)
from surveys.models import Invitation
from tests.conftest import service_missing
from tests.sources import source_default
from tests.surveys.factories import invitation_make, person_make, survey_make

pytestmark = pytest.mark.django_db


def test_row_exists_answers_like_filter_exists() -> None:
    person = person_make()
    invitation = invitation_make(survey=survey_make(), person=person, status=Invitation.Status.SENDING)
    other = person_make()

    cases: list[dict[str, Any]] = [
        {"pk": invitation.pk},
        {"pk": invitation.pk, "status": Invitation.Status.SENDING, "person_id": person.pk},
        {"pk": invitation.pk, "status": Invitation.Status.SENT, "person_id": person.pk},
        {"pk": invitation.pk, "status": Invitation.Status.SENDING, "person_id": other.pk},
        {"pk": invitation.pk + 1},
    ]

    assert [row_exists(Invitation, **case) for case in cases] == [True, True, False, False, False]
    assert [Invitation.objects.filter(**case).exists() for case in cases] == [True, True, False, False, False]


def test_bulk_create_stores_what_djangos_bulk_create_stores_and_sets_the_new_keys() -> None:
    """hub.db.bulk_create (binary arrays on PostgreSQL) against the ORM's, on people
    with JSON traits, quotes, commas, braces, backslashes, None and non-ASCII (what a text array had
    to escape)."""
    source = source_default()
    tricky = ['O\'Brien, "Jr." {x}', "back\\slash", "naïve 日本", "", None]

    def people(prefix: str) -> list[Person]:
        return [
            Person(
                source=source,
                user_id=None if value is None else f"{prefix}{n}",
                email=f"{prefix}{n}@example.com",
                name=value or "",
                traits={"name": value, "tags": ["a", "b,c"], "n": n},
                trait_times={"name": "2026-03-02T09:00:00+00:00"},
            )
            for n, value in enumerate(tricky)
        ]

    ours, djangos = people("ours-"), people("orm-")
    bulk_create(Person, ours)
    Person.objects.bulk_create(djangos)

    assert all(person.pk is not None and not person._state.adding for person in ours)
    stored = {p.pk: p for p in Person.objects.filter(pk__in=[p.pk for p in ours + djangos])}
    for mine, theirs in zip(ours, djangos, strict=True):
        row, reference = stored[mine.pk], stored[theirs.pk]
        assert row.user_id == (
            None if reference.user_id is None else reference.user_id.replace("orm-", "ours-")
        )
        assert row.email == reference.email.replace("orm-", "ours-")
        assert (row.name, row.traits, row.trait_times) == (
            reference.name,
            reference.traits,
            reference.trait_times,
        )
        assert row.updated_at is not None  # auto_now: pre_save ran


def test_bulk_create_with_ignore_conflicts_skips_rows_already_there() -> None:
    person = person_make()
    survey = survey_make()
    invitation_make(survey=survey, person=person)  # one open invitation per survey and person

    again = Invitation(survey=survey, person=person, due_at=timezone.now())
    other = Invitation(survey=survey, person=person_make(), due_at=timezone.now())
    bulk_create(Invitation, [again, other], ignore_conflicts=True)

    assert Invitation.objects.filter(survey=survey).count() == 2
    assert Invitation.objects.filter(person=other.person).exists()


def test_bulk_insert_stores_the_given_columns_and_every_other_fields_default_in_one_statement() -> None:
    survey, people = survey_make(), [person_make(), person_make()]
    due = [timezone.now() + timedelta(days=n) for n in (1, 2)]
    before = timezone.now()

    with CaptureQueriesContext(connection) as queries:
        bulk_insert(
            Invitation, {"survey_id": [survey.pk] * 2, "person_id": [p.pk for p in people], "due_at": due}
        )

    assert len(queries) == 1
    rows = list(Invitation.objects.filter(survey=survey).order_by("due_at"))
    assert [(i.person_id, i.due_at) for i in rows] == [(p.pk, d) for p, d in zip(people, due, strict=True)]
    for row in rows:  # the model's defaults, as Invitation(...).save() would store them
        assert (row.status, row.error, row.attempts, row.language) == (Invitation.Status.SCHEDULED, "", 0, "")
        assert (row.claimed_at, row.sent_at, row.trigger_event_id) == (None, None, None)
        assert before <= row.created_at <= timezone.now()


def test_bulk_insert_with_ignore_conflicts_skips_rows_already_there() -> None:
    person, newcomer = person_make(), person_make()
    survey = survey_make()
    kept = invitation_make(survey=survey, person=person)  # one open invitation per survey and person

    columns = {"survey_id": [survey.pk, survey.pk], "person_id": [person.pk, newcomer.pk]}
    bulk_insert(Invitation, {**columns, "due_at": [timezone.now()] * 2}, ignore_conflicts=True)

    rows = Invitation.objects.filter(survey=survey)
    assert sorted(rows.values_list("person_id", flat=True)) == sorted([person.pk, newcomer.pk])
    assert rows.get(person=person).pk == kept.pk


def test_bulk_insert_refuses_a_column_the_model_does_not_have() -> None:
    with pytest.raises(ValueError, match=r"surveys\.Invitation has no column person"):
        bulk_insert(Invitation, {"person": [1], "due_at": [timezone.now()]})


# Values a fast path could get wrong: an integer beyond 64 bits (orjson refuses it), escapes, nesting,
# None in a nullable column and a JSON null inside traits.
AWKWARD_TRAITS: dict[str, Any] = {
    "big": 2**70,
    "quote": 'a "b" \\ c',
    "nested": {"list": [1, 2.5, None, True], "naïve": "日本"},
    "cleared": None,
}


def test_bulk_update_stores_what_djangos_bulk_update_stores() -> None:
    source = source_default()
    ours = [Person.objects.create(source=source, user_id=f"ours-{n}") for n in range(3)]
    djangos = [Person.objects.create(source=source, user_id=f"orm-{n}") for n in range(3)]
    seen = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
    fields = ["user_id", "traits", "trait_times", "email", "name", "created_at", "last_seen_at"]
    for group in (ours, djangos):
        for n, person in enumerate(group):
            person.user_id = None if n == 2 else f"{person.user_id}-renamed"
            person.traits = {**AWKWARD_TRAITS, "n": n}
            person.trait_times = {"big": "2026-03-02T09:00:00.000000Z"}
            person.email, person.name = f"p{n}@example.com", 'O\'Brien, "Jr." {x}'
            person.created_at, person.last_seen_at = (None if n % 2 else seen), seen

    bulk_update(Person, ours, fields)
    Person.objects.bulk_update(djangos, fields)

    stored = {p.pk: p for p in Person.objects.filter(pk__in=[p.pk for p in ours + djangos])}
    for mine, theirs in zip(ours, djangos, strict=True):
        row, reference = stored[mine.pk], stored[theirs.pk]
        assert (row.user_id or "").replace("ours-", "orm-") == (reference.user_id or "")
        assert row.traits == reference.traits
        assert row.traits["big"] == 2**70
        assert (row.trait_times, row.email, row.name, row.created_at, row.last_seen_at) == (
            reference.trait_times,
            reference.email,
            reference.name,
            reference.created_at,
            reference.last_seen_at,
        )


def test_model_from_row_builds_what_the_orm_loads() -> None:
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (model_columns reads JSON as text, the processor's selects)")
    source = source_default()
    person = Person.objects.create(
        source=source,
        user_id="u-1",
        email="ann@example.com",
        traits=AWKWARD_TRAITS,
        trait_times={"big": "2026-03-02T09:00:00.000000Z"},
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    loaded = Person.objects.get(pk=person.pk)

    with connection.cursor() as cursor:
        table = connection.ops.quote_name(Person._meta.db_table)
        cursor.execute(f"SELECT {model_columns(Person, 'p')} FROM {table} AS p WHERE p.id = %s", [person.pk])  # noqa: S608
        built = model_from_row(Person, cursor.fetchone() or ())

    assert not built._state.adding
    for field in Person._meta.concrete_fields:
        assert getattr(built, field.attname) == getattr(loaded, field.attname), field.name


def test_a_unique_violation_through_the_binary_helpers_is_djangos_integrity_error() -> None:
    """The customer-records step retries a run on django.db.IntegrityError (another writer created the
    same person meanwhile): psycopg's own error class would escape that retry."""
    source = source_default()
    Person.objects.create(source=source, user_id="taken")

    with pytest.raises(IntegrityError), transaction.atomic():
        bulk_create(Person, [Person(source=source, user_id="taken")])
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic():
            binary_rows(
                f"INSERT INTO {Person._meta.db_table} (source_id, user_id, traits, trait_times, email,"  # noqa: S608
                " first_name, last_name, name, gender, language, timezone, first_seen_at, updated_at)"
                " VALUES (%b, %b, '{}', '{}', '', '', '', '', '', '', '', now(), now())",
                [source.pk, "taken"],
            )
