"""hub/db.py `row_exists` answers as the ORM's `filter(...).exists()` does, without building a query."""

from typing import Any

import pytest

from hub.db import row_exists
from surveys.models import Invitation
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
