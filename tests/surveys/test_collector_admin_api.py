"""Collectors in the operations console and the management API: the ready-to-copy links, write-only
secrets, topic actions."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from surveys.models import Collector, Survey
from surveys.services.collector_links import collector_links
from tests.surveys.factories import survey_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey() -> Survey:
    return survey_make()


def test_the_api_creates_lists_and_changes_collectors_with_the_ready_to_copy_link(
    api_client: APIClient, survey: Survey
) -> None:
    created = api_client.post(
        "/api/collectors/",
        {"survey": survey.slug, "name": "Intercom", "type": "email", "delay_minutes": 15},
        format="json",
    )
    assert created.status_code == 201, created.content
    data = created.json()
    collector = Collector.objects.get(pk=data["id"])
    assert data["api_link"] == collector_links(collector)["api_link"]
    assert f"cId={collector.pk}" in data["webhook_link"]
    assert "source=intercom&action=addContactToCollector" in data["webhook_link"]
    assert (data["enabled"], data["delay_minutes"], data["survey"]) == (True, 15, survey.slug)
    assert collector.source is not None
    assert collector.source.slug == f"collector-{collector.pk}"

    changed = api_client.patch(
        f"/api/collectors/{collector.pk}/",
        {"enabled": False, "secrets": {"client_secret": "s3cret"}},
        format="json",
    )
    assert changed.status_code == 200
    assert changed.json()["enabled"] is False
    assert changed.json()["secret_keys"] == ["client_secret"]
    assert "s3cret" not in changed.content.decode()
    collector.refresh_from_db()
    assert collector.secret_values() == {"client_secret": "s3cret"}

    listed = api_client.get("/api/collectors/", {"survey": survey.slug})
    assert [c["id"] for c in listed.json()["results"]] == [collector.pk]


def test_the_api_refuses_unknown_topic_actions(api_client: APIClient, survey: Survey) -> None:
    response = api_client.post(
        "/api/collectors/",
        {"survey": survey.slug, "name": "X", "topic_actions": {"conversation.admin.closed": "explode"}},
        format="json",
    )
    assert response.status_code == 400
    assert "topic_actions" in response.json()["errors"]


def test_the_admin_creates_a_collector_and_shows_its_link_masked_with_a_copy_button(
    admin_client: Client, survey: Survey
) -> None:
    response = admin_client.post(
        "/admin/surveys/collector/add/",
        {
            "survey": survey.pk,
            "name": "Intercom closed chats",
            "kind": "intercom",
            "settings": "{}",
            "channel": "email",
            "enabled": "on",
            "delay_minutes": "5",
            "resurvey_days": "0",
            "topic_actions": '{"conversation.admin.closed": "addContactToCollector"}',
            "new_intercom_client_secret": "cs_123",
            "new_intercom_access_token": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    collector = Collector.objects.get()
    assert collector.secret_values() == {"client_secret": "cs_123"}
    assert collector.source is not None

    page = admin_client.get(f"/admin/surveys/collector/{collector.pk}/change/").content.decode()
    assert collector_links(collector)["webhook_link"].replace("&", "&amp;") in page
    assert 'type="password"' in page
    assert "hub-copy" in page
    assert "integrations/secret.js" in page
    assert "cs_123" not in page

    # Saving without typing a secret keeps it.
    admin_client.post(
        f"/admin/surveys/collector/{collector.pk}/change/",
        {
            "survey": survey.pk,
            "name": "Renamed",
            "kind": "intercom",
            "settings": "{}",
            "channel": "email",
            "delay_minutes": "5",
            "resurvey_days": "0",
            "topic_actions": '{"conversation.admin.closed": "addContactToCollector"}',
            "new_intercom_client_secret": "",
            "new_intercom_access_token": "",
        },
    )
    collector.refresh_from_db()
    assert (collector.name, collector.enabled, collector.secret_values()["client_secret"]) == (
        "Renamed",
        False,
        "cs_123",
    )
