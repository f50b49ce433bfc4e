"""A destination's form is built from its kind's settings schema: labelled boxes with their help, secrets
as password boxes that keep what is stored when left empty, no JSON; the API refuses the settings and
secrets a kind does not take, as the admin can only offer the ones it takes."""

import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from integrations.models import Destination, Source
from integrations.registry import CONNECTORS, connector_get

pytestmark = pytest.mark.django_db


def form_page(client: Client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200
    return page.content.decode()


def base_data(source: Source, **boxes: Any) -> dict[str, Any]:
    return {
        "name": "Destination",
        "source": source.pk,
        "enabled": "on",
        "call_types": ["identify"],
        "timeout_seconds": "5",
        "max_age_seconds": "14400",
        **boxes,
    }


@pytest.mark.parametrize("kind", sorted(CONNECTORS))
def test_each_kind_gets_a_labelled_box_per_setting_and_a_password_box_per_secret(
    admin_client: Client, source: Source, kind: str
) -> None:
    schema = connector_get(kind).settings_schema

    page = form_page(admin_client, f"/admin/integrations/destination/add/?kind={kind}")

    for key in schema.setting_keys():
        assert re.search(rf'<label[^>]*for="id_setting_{key}"[^>]*>{key.replace("_", " ")}', page, re.I)
        if schema.help.get(key):
            assert f'id="id_setting_{key}_helptext"' in page
    for key in schema.secret_names:
        assert re.search(rf'<input type="password" name="secret_{key}"', page)
    # No JSON box, and no other kind's example.
    assert 'name="settings"' not in page
    assert 'name="new_secrets"' not in page
    if kind != "webhook":
        assert "whsec_" not in page


def test_a_segment_destination_stores_its_host_and_key_and_refuses_nothing_else(
    admin_client: Client, source: Source
) -> None:
    response = admin_client.post(
        "/admin/integrations/destination/add/?kind=segment",
        base_data(source, setting_api_host="http://127.0.0.1:8100", secret_write_key="wk-local-0123456789"),
    )

    assert response.status_code == 302, response.content.decode()[-2000:]
    segment = Destination.objects.get()
    assert (segment.kind, segment.settings) == ("segment", {"api_host": "http://127.0.0.1:8100"})
    assert segment.secret_values() == {"write_key": "wk-local-0123456789"}


def test_an_empty_secret_box_keeps_the_stored_secret_and_a_typed_one_replaces_it(
    admin_client: Client, source: Source
) -> None:
    segment = Destination(source=source, kind="segment", name="Segment", settings={}, call_types=["identify"])
    segment.secrets_update({"write_key": "wk-old-0123456789"})
    segment.save()
    url = f"/admin/integrations/destination/{segment.pk}/change/"
    page = form_page(admin_client, url)
    assert "wk-old-0123456789" not in page
    assert re.search(r'<div class="readonly">Segment \(daily NPS sync-back\)</div>', page)  # kind fixed

    assert (
        admin_client.post(url, base_data(source, setting_api_host="https://api.segment.io")).status_code
        == 302
    )
    segment.refresh_from_db()
    assert segment.secret_values() == {"write_key": "wk-old-0123456789"}
    assert segment.settings == {}  # the default host is not stored: it stays the kind's default

    data = base_data(source, setting_api_host="https://api.segment.io", secret_write_key="wk-new-0123456789")
    assert admin_client.post(url, data).status_code == 302
    segment.refresh_from_db()
    assert segment.secret_values() == {"write_key": "wk-new-0123456789"}


def test_true_or_false_settings_are_check_boxes_and_mappings_are_lines(
    admin_client: Client, source: Source
) -> None:
    wootric = admin_client.post(
        "/admin/integrations/destination/add/?kind=wootric",
        base_data(
            source,
            setting_base_url="https://api.wootric.com",
            setting_forward_responses="on",
            setting_ip_address="0.0.0.0",  # noqa: S104 - data, not a bind address
            secret_username="ops@example.com",
            secret_password="pw-0123456789",
        ),
    )
    assert wootric.status_code == 302
    assert Destination.objects.get(kind="wootric").settings == {"forward_responses": True}

    def surveylab(actions: str) -> Any:
        data = base_data(
            source,
            setting_api_link="https://eu.surveylab.com/api.php?cId=12",
            setting_source="segment",
            setting_actions=actions,
            secret_api_token="sl-token-0123456789",
        )
        return admin_client.post("/admin/integrations/destination/add/?kind=surveylab", data)

    bad = surveylab("Order Completed addContactToCollector")
    assert bad.status_code == 200
    assert bad.context["adminform"].form.errors["setting_actions"] == ['Line 1: write "Name: value".']

    good = surveylab("Order Completed: addContactToCollector\nidentify: addContactToCollector")
    assert good.status_code == 302
    assert Destination.objects.get(kind="surveylab").settings["actions"] == {
        "Order Completed": "addContactToCollector",
        "identify": "addContactToCollector",
    }


def test_a_problem_is_shown_beside_the_box_it_is_about(admin_client: Client, source: Source) -> None:
    response = admin_client.post(
        "/admin/integrations/destination/add/?kind=webhook",
        base_data(source, setting_url="ftp://ops.example.com/hooks", secret_signing_secret="not-a-secret"),
    )

    errors = response.context["adminform"].form.errors
    assert "'url' must start with https://" in errors["setting_url"][0]
    assert "whsec_" in errors["secret_signing_secret"][0]
    assert not Destination.objects.exists()


def test_the_api_refuses_a_setting_the_kind_does_not_take(api_client: APIClient, source: Source) -> None:
    body = {
        "source": source.slug,
        "kind": "segment",
        "name": "Segment",
        "settings": {"base_url": "http://127.0.0.1:8100"},  # Segment's is api_host
        "secrets": {"write_key": "wk-0123456789"},
    }

    response = api_client.post("/api/destinations/", body, format="json")

    assert response.status_code == 400
    (problem,) = response.json()["errors"]["settings"]
    assert problem == "settings: 'base_url' is not a setting of this kind (it takes: api_host)."
    assert not Destination.objects.exists()


def test_the_api_refuses_a_secret_the_kind_does_not_take(api_client: APIClient, source: Source) -> None:
    body = {
        "source": source.slug,
        "kind": "segment",
        "name": "Segment",
        "settings": {},
        "secrets": {"write_key": "wk-0123456789", "api_key": "typo-0123456789"},
    }

    response = api_client.post("/api/destinations/", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["secrets"] == [
        "secrets: 'api_key' is not a secret of this kind (it takes: write_key)."
    ]


def test_stored_settings_the_kind_does_not_take_are_named_and_dropped_on_save(
    admin_client: Client, source: Source
) -> None:
    segment = Destination(source=source, kind="segment", name="Segment", call_types=["identify"])
    segment.settings = {"base_url": "http://127.0.0.1:8100"}  # saved before the hub refused it
    segment.secrets_update({"write_key": "wk-0123456789"})
    segment.save()
    url = f"/admin/integrations/destination/{segment.pk}/change/"

    page = form_page(admin_client, url)
    assert "Stored settings this kind does not take, dropped when saved: base_url." in page

    # The host moves from the default to api_host: its key is entered again with it.
    data = base_data(source, setting_api_host="http://127.0.0.1:8100", secret_write_key="wk-0123456789")
    assert admin_client.post(url, data).status_code == 302
    segment.refresh_from_db()
    assert segment.settings == {"api_host": "http://127.0.0.1:8100"}
