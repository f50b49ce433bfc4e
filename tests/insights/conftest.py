"""The report emails' fixtures: the real SMTP server of the survey tests, and staff who subscribe."""

from collections.abc import Callable
from typing import Any

import pytest

from insights.models import ReportSubscription
from surveys.models import Survey
from tests.conftest import permissions_named
from tests.surveys.conftest import smtp, smtp_server  # noqa: F401 (fixtures used by name)


@pytest.fixture
def subscribe(django_user_model: Any) -> Callable[..., ReportSubscription]:
    """A subscription of a new staff member who may see answers (created at `created_at`, default now)."""

    def make(
        *, survey: Survey | None, frequency: str = "weekly", time_zone: str = "UTC", **fields: Any
    ) -> ReportSubscription:
        number = django_user_model.objects.count() + 1
        user = django_user_model.objects.create_user(
            username=f"analyst-{number}",
            email=f"analyst{number}@acme.example",
            first_name="Ana",
            last_name=f"Lyst {number}",
            is_staff=True,
        )
        user.user_permissions.add(*permissions_named("surveys.view_survey", "surveys.view_response"))
        return ReportSubscription.objects.create(
            user=user, survey=survey, frequency=frequency, time_zone=time_zone, **fields
        )

    return make
