"""`histories_load`: what the rules know of each person's past invitations and suppressions, for every
(survey, person) pair of a batch, in one query of invitations and one of suppressions."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Suppression, suppression_hash
from surveys.models import Invitation
from surveys.services.eligibility import COUNTED, DELIVERED, histories_load
from tests.surveys.factories import invitation_make, person_make, survey_make

pytestmark = pytest.mark.django_db

T = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def day(n: int) -> datetime:
    return T + timedelta(days=n)


def test_one_query_of_invitations_gives_every_pairs_last_invitation_open_one_and_latest_of_any_survey() -> (
    None
):
    a, b, other = (survey_make(name=slug, slug=slug) for slug in ("a", "b", "other"))
    ann, bo, cy = person_make(), person_make(), person_make()
    invitation_make(survey=a, person=ann, due_at=day(1), status=Invitation.Status.SENT)
    invitation_make(survey=a, person=ann, due_at=day(3), status=Invitation.Status.SCHEDULED)
    invitation_make(survey=b, person=ann, due_at=day(2), status=Invitation.Status.RESPONDED)
    invitation_make(survey=other, person=ann, due_at=day(4), status=Invitation.Status.EXPIRED)
    invitation_make(survey=a, person=bo, due_at=day(5), status=Invitation.Status.CANCELLED)
    invitation_make(survey=b, person=bo, due_at=day(6), status=Invitation.Status.SENDING)
    invitation_make(survey=b, person=cy, due_at=day(7), status=Invitation.Status.FAILED)
    Suppression.objects.create(
        source=bo.source,
        kind="email",
        value_hash=suppression_hash("email", bo.email),
        reason=Suppression.Reason.UNSUBSCRIBED,
    )

    def pairs(counted: list[Invitation.Status]) -> dict[tuple[str, str], tuple[object, ...]]:
        with CaptureQueriesContext(connection) as queries:
            histories = histories_load(surveys=[a, b], people=[ann, bo, cy], counted=counted)
        assert len(queries) == 2  # the invitations, the suppressions
        surveys, people = {a.pk: "a", b.pk: "b"}, {ann.pk: "ann", bo.pk: "bo", cy.pk: "cy"}
        return {
            (surveys[s], people[p]): (h.last_for_survey, h.open_due_at, h.last_any, h.suppression is not None)
            for (s, p), h in histories.items()
        }

    # Scheduling: open invitations count as surveyed; cancelled and failed ones never do.
    assert pairs(COUNTED) == {
        ("a", "ann"): (day(3), day(3), day(4), False),
        ("b", "ann"): (day(2), None, day(4), False),
        ("a", "bo"): (None, None, day(6), True),
        ("b", "bo"): (day(6), day(6), day(6), True),
        ("a", "cy"): (None, None, None, False),
        ("b", "cy"): (None, None, None, False),
    }
    # The send-time re-check: only invitations really sent count; the open ones are still seen.
    assert pairs(DELIVERED) == {
        ("a", "ann"): (day(1), day(3), day(4), False),
        ("b", "ann"): (day(2), None, day(4), False),
        ("a", "bo"): (None, None, None, True),
        ("b", "bo"): (None, day(6), None, True),
        ("a", "cy"): (None, None, None, False),
        ("b", "cy"): (None, None, None, False),
    }
