"""CustomerSuccessBox: identify -> user, group -> account, track -> feature usage, each mapped by its
shipped preset and POSTed with the API key as Bearer token to a local server standing in for CSB."""

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination, MappingRule, MappingSet
from integrations.registry import connector_get
from tests.integrations.connectors.outbound import destination_create, enqueue_call, presets, vendor_request  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("presets")]

AUTH = {"Authorization": "Bearer csb-post-key-1"}


@pytest.fixture
def csb(httpserver: HTTPServer) -> Destination:
    return destination_create(
        "customersuccessbox",
        settings={"base_url": httpserver.url_for("/")},
        secrets={"api_key": "csb-post-key-1"},
        call_types=["identify", "group", "track", "page"],
    )


def deliver(call: str | dict[str, Any]) -> Delivery:
    (delivery,) = enqueue_call(call)
    deliveries_deliver_due()
    delivery.refresh_from_db()
    return delivery


def test_identify_creates_a_user_with_the_presets_fields(httpserver: HTTPServer, csb: Destination) -> None:
    httpserver.expect_oneshot_request(
        "/api_js/v1_1/identify",
        method="POST",
        headers=AUTH,
        json=vendor_request("customersuccessbox", "identify"),
    ).respond_with_json({"status": "ok"})

    assert deliver("identify__csb_user").status == Delivery.Status.DELIVERED
    httpserver.check_assertions()


def test_group_creates_an_account_with_billing_address(httpserver: HTTPServer, csb: Destination) -> None:
    httpserver.expect_oneshot_request(
        "/api_js/v1_1/account",
        method="POST",
        headers=AUTH,
        json={
            "type": "account",
            "account_id": "acme-bv",
            "traits": {
                "name": "Acme BV",
                "created_on": "2019-03-01T00:00:00.000Z",
                "email": "billing@acme.example",
                "phone": "+32 9 000 00 00",
                "employees": 120,
                "industry": "Logistics",
                "billing_city": "Gent",
                "billing_country": "Belgium",
                "billing_postal_code": "9051",
                "billing_state": "Oost-Vlaanderen",
                "billing_street": "Kortrijksesteenweg 1000",
                "stage": "Onboarding",
                "licenses": 50,
            },
        },
    ).respond_with_json({"status": "ok"})

    assert deliver("group__csb_account").status == Delivery.Status.DELIVERED
    httpserver.check_assertions()


def test_track_records_feature_usage_in_module_general_by_default(
    httpserver: HTTPServer, csb: Destination
) -> None:
    httpserver.expect_oneshot_request(
        "/api_js/v1_1/feature",
        method="POST",
        headers=AUTH,
        json={
            "type": "feature",
            "account_id": "acme-bv",  # from context.traits
            "user_id": "user-4711",  # the userId
            "feature_id": "Project Created",
            "module_id": "General",
            "product_id": "Planner",
            "total": 3,
            "timestamp": "2024-03-05T14:30:00.250Z",
        },
    ).respond_with_json({"status": "ok"})

    assert deliver("track__csb_feature_default_module").status == Delivery.Status.DELIVERED
    httpserver.check_assertions()


def test_the_product_setting_fills_in_a_track_call_without_product(
    httpserver: HTTPServer, csb: Destination
) -> None:
    csb.settings["product_id"] = "Feedback Hub"
    csb.save()
    httpserver.expect_oneshot_request(
        "/api_js/v1_1/feature",
        json={
            "type": "feature",
            "account_id": "a-1",
            "user_id": "u-1",
            "feature_id": "Report Exported",
            "module_id": "Reports",
            "product_id": "Feedback Hub",
        },
    ).respond_with_json({"status": "ok"})

    call: dict[str, Any] = {"type": "track", "event": "Report Exported", "userId": "u-1"}
    call["properties"] = {"account_id": "a-1", "module_id": "Reports"}
    assert deliver(call).status == Delivery.Status.DELIVERED
    httpserver.check_assertions()


def test_a_mapping_chosen_on_the_destination_replaces_the_preset_of_its_call_type_only(
    httpserver: HTTPServer, csb: Destination
) -> None:
    own = MappingSet.objects.create(
        name="Our CSB users", slug="our-csb-users", target="csb", call_types=["identify"]
    )
    for position, (source, target) in enumerate(
        [("traits.company", "account_id"), ("userId", "user_id"), ("traits.plan", "plan")]
    ):
        MappingRule.objects.create(mapping_set=own, position=position, source_paths=source, target=target)
    csb.mapping_set = own
    csb.save()
    httpserver.expect_oneshot_request(
        "/api_js/v1_1/identify",
        json={"type": "user", "account_id": "c-9", "user_id": "u-9", "traits": {"plan": "pro"}},
    ).respond_with_json({"status": "ok"})
    httpserver.expect_oneshot_request(
        "/api_js/v1_1/account", json={"type": "account", "account_id": "c-9", "traits": {"name": "Nine"}}
    ).respond_with_json({"status": "ok"})

    enqueue_call({"type": "identify", "userId": "u-9", "traits": {"company": "c-9", "plan": "pro"}}, key="i")
    enqueue_call({"type": "group", "groupId": "c-9", "traits": {"name": "Nine"}}, key="g")
    deliveries_deliver_due()

    httpserver.check_assertions()
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_call_without_the_ids_csb_needs_is_recorded_as_failed_and_not_sent(
    httpserver: HTTPServer, csb: Destination
) -> None:
    delivery = deliver({"type": "identify", "userId": "u-1", "traits": {"email": "a@example.com"}})

    assert delivery.status == Delivery.Status.FAILED
    assert "account_id" in delivery.last_error
    assert httpserver.log == []


def test_a_page_call_is_refused_as_unsupported(httpserver: HTTPServer, csb: Destination) -> None:
    delivery = deliver({"type": "page", "userId": "u-1", "name": "Pricing"})

    assert delivery.status == Delivery.Status.FAILED
    assert "identify, group and track" in delivery.last_error
    assert httpserver.log == []


def test_a_400_from_csb_fails_the_delivery_without_retry(httpserver: HTTPServer, csb: Destination) -> None:
    httpserver.expect_request("/api_js/v1_1/account").respond_with_json({"error": "bad account"}, status=400)

    delivery = deliver("group__csb_account")
    deliveries_deliver_due()

    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 1
    assert len(httpserver.log) == 1


def test_validation_names_what_is_missing() -> None:
    assert connector_get("customersuccessbox").validate(settings={}, secrets={}) == [
        "settings: 'base_url' is required.",
        "secrets: 'api_key' is required.",
    ]


def test_a_call_that_cannot_be_built_is_logged_without_its_trait_values(
    csb: Destination, caplog: pytest.LogCaptureFixture
) -> None:
    call = {"type": "identify", "userId": "u-9", "messageId": "m-9", "traits": {"createdAt": "day-7f3a9c"}}

    (delivery,) = enqueue_call(call)

    assert delivery.status == Delivery.Status.FAILED
    assert "day-7f3a9c" in delivery.last_error  # staff see the value on the delivery...
    assert "building identify for destination" in caplog.text
    assert "day-7f3a9c" not in caplog.text  # ...the log never holds it
