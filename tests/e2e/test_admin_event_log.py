"""A staff user reads the event log in the admin: what arrived, what was rejected and why, reprocess."""

import json
from collections.abc import Sequence
from typing import Any

import pytest
import requests
from django.db import connection
from django.http import HttpRequest
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from playwright.sync_api import Page, expect

from integrations import services
from integrations.models import InboundEvent, Source
from tests.e2e.conftest import screenshot

LONG_URL = "https://shop.example.com/checkout/confirm?" + "&".join(f"item{i}=sku-{i:04d}" for i in range(12))
COLUMNS = ["Received at", "Source", "Type", "User", "Event", "Status", "Reason"]


class Flaky:
    """A `screen` handler that fails until repaired, as a broken downstream would."""

    def __init__(self) -> None:
        self.broken = True

    def __call__(self, events: Sequence[InboundEvent]) -> None:
        if self.broken and any(event.type == "screen" for event in events):
            raise RuntimeError("survey service unavailable")


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Flaky:
    handler = Flaky()
    monkeypatch.setattr(services, "event_handlers", lambda: [handler])
    return handler


@pytest.fixture
def logged_events(live_server: Any, source_with_key: tuple[Source, str], flaky: Flaky) -> None:
    """Four calls over real HTTP: two fine, one the intake rejects, one whose processing fails."""
    _, key = source_with_key
    batch = [
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@example.com", "plan": "pro"}},
        {
            "type": "track",
            "userId": "bob",
            "event": "Order Completed",
            "properties": {"total": 42.5, "url": LONG_URL},
        },
        {"type": "track", "userId": "carl"},  # no event name: rejected
        {"type": "screen", "anonymousId": "anon-7", "name": "Checkout"},  # processing fails
    ]
    response = requests.post(f"{live_server.url}/v1/batch", json={"batch": batch}, auth=(key, ""), timeout=10)
    assert response.status_code == 200, response.text
    statuses = dict(
        InboundEvent.objects.values_list("type", "status").filter(type__in=["identify", "screen"])
    )
    assert statuses == {"identify": "processed", "screen": "failed"}


def rows(page: Page) -> Any:
    return page.locator("#result_list tbody tr")


def test_event_log_lists_filters_and_searches_events(admin_page: Page, logged_events: None) -> None:
    page = admin_page
    page.get_by_role("link", name="Events", exact=True).click()

    headers = page.locator("#result_list thead th:not(.action-checkbox-column)")
    expect(headers).to_have_text(COLUMNS)
    expect(rows(page)).to_have_count(4)
    rejected = rows(page).filter(has_text="carl")
    expect(rejected.locator("td.field-source")).to_have_text("Web app")
    expect(rejected.locator("td.field-type")).to_have_text("Track")
    expect(rejected.locator("td.field-status_label")).to_have_text("rejected")
    expect(rejected.locator("td.field-reason_short")).to_have_text("track needs an event name")
    received = InboundEvent.objects.get(user_id="carl").received_at
    expect(rejected.locator(".field-received")).to_have_text(received.strftime("%Y-%m-%d %H:%M:%S"))
    order = rows(page).filter(has_text="bob")
    expect(order.locator("td.field-event")).to_have_text("Order Completed")
    expect(order.locator("td.field-status_label")).to_have_text("processed")
    failed = rows(page).filter(has_text="anon anon-7")
    expect(failed.locator("td.field-status_label")).to_have_text("failed")
    expect(failed.locator("td.field-reason_short")).to_have_text("RuntimeError: survey service unavailable")
    expect(page.locator("p.paginator")).to_contain_text("4 events")
    screenshot(page, "event-log")

    # Filter by status: only the rejected call remains, with its reason.
    page.locator("#changelist-filter").get_by_role("link", name="rejected", exact=True).click()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).locator("td.field-who")).to_have_text("carl")
    expect(rows(page).locator("td.field-reason_short")).to_have_text("track needs an event name")

    # Search by user id, on the whole log again.
    page.goto("/admin/integrations/inboundevent/")
    page.locator("#searchbar").fill("bob")
    page.locator("#searchbar").press("Enter")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).locator("td.field-event")).to_have_text("Order Completed")


def test_event_page_shows_the_payload_pretty_printed(admin_page: Page, logged_events: None) -> None:
    page = admin_page
    page.goto("/admin/integrations/inboundevent/")
    rows(page).filter(has_text="Order Completed").locator("th a").click()

    payload = page.locator("pre.hub-payload")
    expect(payload).to_be_visible()
    text = payload.inner_text()
    assert '\n  "properties": {\n    "total": 42.5,\n    "url": "https://' in text  # indented, a key a line
    assert json.loads(text) == InboundEvent.objects.get(user_id="bob").payload
    help_text = str(InboundEvent._meta.get_field("payload").help_text)
    expect(page.locator(".form-row.field-pretty_payload .help")).to_have_text(help_text)
    expect(page.locator(".form-row.field-reason .help")).to_have_text(
        str(InboundEvent._meta.get_field("reason").help_text)
    )
    # A long value wraps inside the box instead of widening the page.
    box = payload.bounding_box()
    viewport = page.viewport_size
    assert box is not None
    assert viewport is not None
    assert box["x"] + box["width"] <= viewport["width"]
    screenshot(page, "event-detail")


def test_reprocess_action_processes_a_failed_event(
    admin_page: Page, logged_events: None, flaky: Flaky
) -> None:
    page = admin_page
    flaky.broken = False  # the downstream is back
    page.goto("/admin/integrations/inboundevent/?status__exact=failed")
    expect(rows(page)).to_have_count(1)
    rows(page).locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label="Reprocess selected events")
    page.get_by_role("button", name="Go").click()

    expect(page.locator(".messagelist .success")).to_have_text(
        "Reprocessed 1 of 1 event(s); rejected events are skipped."
    )
    page.goto("/admin/integrations/inboundevent/")
    screen = rows(page).filter(has_text="anon anon-7")
    expect(screen.locator("td.field-status_label")).to_have_text("processed")
    expect(screen.locator("td.field-reason_short")).to_have_text("-")  # the admin's "empty"
    event = InboundEvent.objects.get(type="screen")
    assert (event.status, event.attempts) == ("processed", 2)


def test_event_log_queries_stay_bounded(
    client: Client, admin_credentials: tuple[str, str], source: Source
) -> None:
    """No COUNT(*) of the whole log, and no query per row for its source (list_select_related)."""
    received = timezone.now()
    InboundEvent.objects.bulk_create(
        InboundEvent(
            source=source,
            message_id=f"m{i}",
            type="track",
            user_id=f"u{i}",
            event="Signed Up",
            received_at=received,
            payload={},
            status="processed",
        )
        for i in range(30)
    )
    client.login(request=HttpRequest(), username=admin_credentials[0], password=admin_credentials[1])
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/integrations/inboundevent/")
    assert response.status_code == 200
    assert b"30 events" in response.content
    sqls = [q["sql"] for q in queries.captured_queries]
    table = InboundEvent._meta.db_table
    counts = [sql for sql in sqls if "COUNT(" in sql.upper() and table in sql]
    assert counts, sqls  # the list still says how many events there are...
    assert all("LIMIT" in sql.upper() for sql in counts), counts  # ...counting at most COUNT_LIMIT rows
    source_table = Source._meta.db_table
    assert len([sql for sql in sqls if f'FROM "{source_table}"' in sql]) <= 1, sqls  # the filter list only
