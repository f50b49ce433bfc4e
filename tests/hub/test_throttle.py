"""Rate limits: the public survey pages and the collectors' links per client address, the intake
(optionally) per source. Past the limit: 429 with Retry-After, JSON {"code", "message"} for machines,
the friendly page in the survey's style for people."""

import json
import secrets
import subprocess
import sys
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client

from customers.models import Suppression
from hub.throttle import client_address
from integrations.models import InboundEvent, Source
from integrations.services import source_create
from surveys.models import Collector
from tests.conftest import ROOT, service_missing, subprocess_env
from tests.integrations.intercom.support import collector_make, link
from tests.surveys.factories import survey_make
from tests.surveys.factories_pages import page_invitation, page_path

pytestmark = pytest.mark.django_db


def over_the_limit(response: Any, window: int = 60) -> None:
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= window


# --- survey pages ---------------------------------------------------------------------------------------


@pytest.mark.throttled
def test_survey_pages_answer_429_in_the_surveys_style_past_the_rate(client: Client, settings: Any) -> None:
    settings.HUB_RATE_SURVEY_PAGES = "3/m"
    invitation = page_invitation()
    path = page_path(invitation)

    served = [client.get(path).status_code for _ in range(3)]
    refused = client.get(path)

    assert served == [200, 200, 200]
    over_the_limit(refused)
    page = refused.content.decode()
    assert "Too many requests" in page
    assert "#0b7a53" in page  # the survey's accent colour
    assert "https://cdn.example.com/acme-logo.png" in page
    assert client.get(path, REMOTE_ADDR="198.51.100.7").status_code == 200  # another address


@pytest.mark.throttled
def test_a_made_up_survey_link_past_the_rate_gets_the_neutral_page(client: Client, settings: Any) -> None:
    settings.HUB_RATE_SURVEY_PAGES = "2/m"
    for _ in range(2):
        assert client.get("/s/not-a-token/").status_code == 404

    refused = client.get("/s/not-a-token/thanks/")

    over_the_limit(refused)
    assert "Too many requests" in refused.content.decode()


@pytest.mark.throttled
def test_an_unsubscribe_is_never_throttled(client: Client, settings: Any) -> None:
    settings.HUB_RATE_SURVEY_PAGES = "2/m"
    invitation = page_invitation()
    unsubscribe = page_path(invitation) + "unsubscribe/"
    for _ in range(2):
        assert client.get(unsubscribe).status_code == 200
    assert client.get(unsubscribe).status_code == 429

    # RFC 8058 one-click, as a mail provider sends it (from one address for all its users).
    one_click = client.post(unsubscribe, {"List-Unsubscribe": "One-Click"})

    assert one_click.status_code == 200
    assert Suppression.objects.filter(reason="unsubscribed").exists()


def test_the_default_rate_serves_an_office_answering_at_once(client: Client) -> None:
    """60/m: a dozen colleagues behind one address, each opening their survey page and the thank-you
    page a few times within a minute, are never slowed."""
    assert settings.HUB_RATE_SURVEY_PAGES == "60/m"
    path = page_path(page_invitation())
    for _ in range(50):
        assert client.get(path).status_code == 200


# --- collectors --------------------------------------------------------------------------------------


@pytest.fixture
def collector(db: None) -> Collector:
    return collector_make(survey_make(), name="Zapier")


def add(client: Client, collector: Collector, n: int, **extra: Any) -> Any:
    body = json.dumps({"email": f"contact-{n}@example.com"})
    return client.post(link(collector), body, content_type="application/json", **extra)


@pytest.mark.throttled
def test_collector_links_answer_429_json_past_the_rate(
    client: Client, collector: Collector, settings: Any
) -> None:
    settings.HUB_RATE_COLLECTORS = "3/m"
    served = [add(client, collector, n).status_code for n in range(3)]
    refused = add(client, collector, 3)

    assert served == [200, 200, 200]
    over_the_limit(refused)
    assert refused.json()["code"] == "rate_limited"
    assert set(refused.json()) == {"code", "message"}
    assert "3/m" in refused.json()["message"]
    assert collector.source is not None
    assert collector.source.events.count() == 3  # the refused call is not stored
    # Guessing tokens counts too, on both paths of the link.
    assert client.post(f"/collect/{collector.pk}/?apiToken=guess").status_code == 429
    assert add(client, collector, 4, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_the_default_collector_rate_takes_a_busy_minute(client: Client, collector: Collector) -> None:
    assert settings.HUB_RATE_COLLECTORS == "300/m"
    for n in range(120):
        assert add(client, collector, n).status_code == 200


# --- client address -------------------------------------------------------------------------------------


@pytest.mark.throttled
def test_behind_a_proxy_the_configured_header_names_the_client(
    client: Client, collector: Collector, settings: Any
) -> None:
    settings.HUB_RATE_COLLECTORS = "2/m"
    settings.HUB_CLIENT_ADDRESS_META_KEY = "HTTP_X_FORWARDED_FOR"
    # The proxy appends the address it saw; what the client put before it is not trusted.
    ann = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.99, 198.51.100.1"}
    bo = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.99, 198.51.100.2"}

    assert [add(client, collector, n, **ann).status_code for n in range(2)] == [200, 200]
    assert add(client, collector, 2, **ann).status_code == 429
    assert add(client, collector, 3, **bo).status_code == 200


def test_without_a_configured_header_forwarded_addresses_are_ignored(rf: Any, settings: Any) -> None:
    settings.HUB_CLIENT_ADDRESS_META_KEY = ""
    request = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert client_address(request) == "192.0.2.1"
    settings.HUB_CLIENT_ADDRESS_META_KEY = "HTTP_X_FORWARDED_FOR"
    garbled = rf.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="not-an-address")
    assert client_address(garbled) == "192.0.2.1"


# --- intake -----------------------------------------------------------------------------------------------


def identify(client: Client, key: str, n: int) -> Any:
    body = json.dumps({"userId": f"u-{n}", "traits": {"plan": "pro"}, "writeKey": key})
    return client.post("/v1/identify", body, content_type="application/json")


def test_the_intake_has_no_rate_by_default(client: Client, write_key: str) -> None:
    assert settings.INTAKE_RATE_PER_SOURCE == ""
    assert all(identify(client, write_key, n).status_code == 200 for n in range(100))


@pytest.mark.throttled
def test_the_intake_rate_counts_per_source(
    client: Client, source_with_key: tuple[Source, str], settings: Any
) -> None:
    settings.INTAKE_RATE_PER_SOURCE = "3/m"
    source, key = source_with_key
    _, other_key = source_create(name="Mobile", slug="mobile")

    served = [identify(client, key, n).status_code for n in range(3)]
    refused = identify(client, key, 3)

    assert served == [200, 200, 200]
    over_the_limit(refused)
    assert refused.json()["code"] == "rate_limited"
    assert set(refused.json()) == {"code", "message"}
    assert InboundEvent.objects.filter(source=source).count() == 3  # nothing of the refused call
    # Another source (from the same address) is not counted against this one.
    assert [identify(client, other_key, n).status_code for n in range(3)] == [200, 200, 200]
    batch = json.dumps({"batch": [{"type": "track", "userId": "u", "event": "E"}], "writeKey": key})
    assert client.post("/v1/batch", batch, content_type="application/json").status_code == 429


# --- several web processes ------------------------------------------------------------------------------


@pytest.mark.throttled
def test_the_counters_hold_across_web_processes(client: Client, settings: Any) -> None:
    """Another process (as gunicorn's workers are) counts in the same shared cache: its requests and
    this one's add up. Redis is what production uses by default (the broker's, or CACHE_URL)."""
    url = settings.CELERY_BROKER_URL if settings.CELERY_BROKER_URL.startswith("redis") else ""
    url = url or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        service_missing(f"Redis at {url}")
    redis_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": "hub",
    }
    settings.CACHES = {"default": redis_cache}
    # An hour's window: the two processes' requests fall into one window (a minute's could end between).
    settings.HUB_RATE_COLLECTORS = "5/h"
    # An address of this run only (the benchmarking range): counts of earlier runs do not mix in.
    address = f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    other_process = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        f"print([Client(REMOTE_ADDR={address!r}).post('/api.php').status_code for _ in range(5)])\n"
    )
    env = subprocess_env(CACHE_URL=url, HUB_RATE_COLLECTORS="5/h", ALLOWED_HOSTS="testserver")
    result = subprocess.run(
        [sys.executable, "-c", other_process], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[401, 401, 401, 401, 401]"  # no token: refused, but counted
    over_the_limit(client.post("/api.php", REMOTE_ADDR=address), window=3600)
