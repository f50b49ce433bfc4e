"""Admin actions are offered only to staff whose permissions cover what the action does."""

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.db import models
from django.test import Client, RequestFactory
from django.utils import timezone

from customers.models import Person
from integrations.models import InboundEvent, Source
from tests.conftest import permissions_named

pytestmark = pytest.mark.django_db


def registered() -> list[tuple[type[models.Model], admin.ModelAdmin[Any]]]:
    return list(admin.site._registry.items())


def actions_for(user: Any, model_admin: admin.ModelAdmin[Any]) -> set[str]:
    request = RequestFactory().get("/admin/")
    request.user = user
    return set(model_admin.get_actions(request))


def staff(django_user_model: Any, *permissions: str) -> Any:
    user = django_user_model.objects.create_user(
        username=f"staff-{django_user_model.objects.count()}", password="pw-staff-123", is_staff=True
    )
    user.user_permissions.add(*permissions_named(*permissions))
    return django_user_model.objects.get(pk=user.pk)  # a fresh object: no cached permissions


@pytest.mark.parametrize(
    "model_admin", [a for _, a in registered() if a.actions], ids=lambda a: type(a).__name__
)
def test_every_action_declares_the_permissions_it_needs(model_admin: admin.ModelAdmin[Any]) -> None:
    undeclared = [
        name
        for function, name, _ in model_admin._get_base_actions()  # type: ignore[attr-defined]
        if not getattr(function, "allowed_permissions", None)
    ]
    assert undeclared == []


@pytest.mark.parametrize(("model", "model_admin"), registered(), ids=lambda x: getattr(x, "__name__", ""))
def test_a_staff_member_who_may_only_view_is_offered_no_action(
    django_user_model: Any, model: type[models.Model], model_admin: admin.ModelAdmin[Any]
) -> None:
    opts = model._meta
    viewer = staff(django_user_model, f"{opts.app_label}.view_{opts.model_name}")

    assert actions_for(viewer, model_admin) == set()


@pytest.mark.parametrize(
    ("model_admin_of", "action", "permission"),
    [
        (Source, "generate_write_key", "integrations.change_source"),
        (InboundEvent, "reprocess", "integrations.change_inboundevent"),
        (Person, "erase_people", "customers.delete_person"),
    ],
)
def test_the_matching_permission_offers_the_action(
    django_user_model: Any, model_admin_of: type[models.Model], action: str, permission: str
) -> None:
    model_admin = admin.site._registry[model_admin_of]
    opts = model_admin_of._meta
    user = staff(django_user_model, f"{opts.app_label}.view_{opts.model_name}", permission)

    assert action in actions_for(user, model_admin)


def test_the_full_set_is_offered_to_a_superuser(admin_user: Any) -> None:
    offered = set().union(*(actions_for(admin_user, a) for _, a in registered()))
    assert {
        "erase_people",
        "reprocess",
        "replay",
        "replay_dead",
        "send_test",
        "sync_back_now",
        "generate_write_key",
        "send_test_to_me",
        "rotate_token",
        "cancel",
    } <= offered
    assert actions_for(AnonymousUser(), admin.site._registry[Person]) == set()


def test_erasing_people_needs_delete_person(
    client: Client, django_user_model: Any, source: Source, write_key: str
) -> None:
    person = Person.objects.create(source=source, user_id="u-1", email="ann@example.com")
    client.force_login(staff(django_user_model, "customers.view_person", "customers.change_person"))

    page = client.get("/admin/customers/person/").content.decode()
    posted = client.post(
        "/admin/customers/person/", {"action": "erase_people", "_selected_action": [person.pk]}, follow=True
    )

    assert "erase_people" not in page
    assert posted.status_code == 200
    assert Person.objects.filter(pk=person.pk).exists()


@pytest.mark.parametrize(
    ("permissions", "reprocessed"),
    [(("integrations.view_inboundevent",), False), (("integrations.change_inboundevent",), True)],
)
def test_reprocessing_events_needs_change_inboundevent(
    client: Client, django_user_model: Any, source: Source, permissions: tuple[str, ...], reprocessed: bool
) -> None:
    event = InboundEvent.objects.create(
        source=source,
        message_id="m-1",
        type="track",
        user_id="u-1",
        event="Signed Up",
        status=InboundEvent.Status.FAILED,
        reason="boom",
        received_at=timezone.now(),
        payload={"type": "track", "userId": "u-1", "event": "Signed Up"},
    )
    client.force_login(staff(django_user_model, "integrations.view_inboundevent", *permissions))

    client.post("/admin/integrations/inboundevent/", {"action": "reprocess", "_selected_action": [event.pk]})

    event.refresh_from_db()
    assert (event.status != InboundEvent.Status.FAILED) is reprocessed


def test_sending_a_test_survey_needs_change_survey(client: Client, django_user_model: Any) -> None:
    from django.core import mail

    from surveys.models import Survey

    survey = Survey.objects.create(name="Onboarding NPS", slug="onboarding-nps")
    viewer = staff(django_user_model, "surveys.view_survey")
    viewer.email = "viewer@example.com"
    viewer.save()
    client.force_login(viewer)

    preview = client.get(f"/admin/surveys/survey/{survey.pk}/preview/").content.decode()
    sent = client.post(f"/admin/surveys/survey/{survey.pk}/send-test/", {"language": "en"})

    assert "Send test to me" not in preview
    assert sent.status_code == 403
    assert mail.outbox == []
