"""The public JSON endpoint and the iframe embed: only approved quotes, featured first; CORS, ETag (304
on If-None-Match) and Cache-Control; customer text escaped; odd query parameters a clear 400, never a 500;
rate-limited per client address."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from testimonials.models import Testimonial
from testimonials.services import testimonials_moderate
from tests.surveys.factories_pages import page_survey
from tests.testimonials.helpers import answered, approved_quote, consent_post, embed_json

pytestmark = pytest.mark.django_db

XSS = 'Love it <script>alert("x")</script> "><img src=x onerror=alert(1)> really'


def quotes(response: Any) -> list[str]:
    return [item["quote"] for item in response.json()["testimonials"]]


def test_only_approved_quotes_are_public_featured_first(client: Client) -> None:
    first = approved_quote(comment="First approved quote.")
    featured = approved_quote(comment="The featured quote.")
    testimonials_moderate(testimonials=[featured], action="feature")
    _, _, pending_token = answered(comment="Still pending review.")
    consent_post(Client(), pending_token)
    answered(comment="Never consented to anything.")

    got = embed_json(client, survey="customer-nps")

    assert got.status_code == 200
    assert got["Content-Type"] == "application/json"
    assert quotes(got) == ["The featured quote.", "First approved quote."]
    [top, _] = got.json()["testimonials"]
    assert top == {
        "id": featured.pk,
        "quote": "The featured quote.",
        "name": "Ann P.",
        "company": "Acme Corp",
        "rating": 10,
        "featured": True,
    }
    assert first.status == Testimonial.Status.APPROVED


def test_the_survey_tag_and_limit_choose_the_quotes(client: Client) -> None:
    other = page_survey(name="Other", slug="other")
    approved_quote(comment="Quote of the first survey.")
    tagged = approved_quote(comment="Tagged support quote.")
    Testimonial.objects.filter(pk=tagged.pk).update(tags=["Support"])
    approved_quote(comment="Quote of the other survey.", survey=other)

    assert quotes(embed_json(client, survey=str(other.pk))) == ["Quote of the other survey."]
    assert quotes(embed_json(client, tag="support")) == ["Tagged support quote."]
    assert len(quotes(embed_json(client, limit="2"))) == 2
    assert len(quotes(embed_json(client))) == 3


def test_cors_etag_and_cache_headers_and_304_while_the_set_is_the_same(client: Client) -> None:
    approved_quote()

    first = client.get(
        reverse("testimonials:embed_json"), {"survey": "customer-nps"}, HTTP_ORIGIN="https://www.acme.example"
    )

    assert first["Access-Control-Allow-Origin"] == "*"
    assert "max-age=0" in first["Cache-Control"]
    assert "public" in first["Cache-Control"]
    etag = first["ETag"]
    again = client.get(
        reverse("testimonials:embed_json"), {"survey": "customer-nps"}, HTTP_IF_NONE_MATCH=etag
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["Access-Control-Allow-Origin"] == "*"

    approved_quote(comment="A new quote changes the set.")
    changed = client.get(
        reverse("testimonials:embed_json"), {"survey": "customer-nps"}, HTTP_IF_NONE_MATCH=etag
    )
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_a_preflight_is_answered_for_any_origin(client: Client) -> None:
    got = client.options(reverse("testimonials:embed_json"), HTTP_ORIGIN="https://www.acme.example")

    assert got.status_code == 204
    assert got["Access-Control-Allow-Origin"] == "*"
    assert "GET" in got["Access-Control-Allow-Methods"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"survey": "no-such-survey"}, "survey"),
        ({"survey": "99999999999999999999999"}, "survey"),
        ({"survey": "<script>"}, "survey"),
        ({"survey": "\x00"}, "survey"),
        ({"limit": "0"}, "limit"),
        ({"limit": "51"}, "limit"),
        ({"limit": "1e3"}, "limit"),
        ({"limit": "99999999999999999999999999999"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"tag": "t" * 500}, "tag"),
        ({"layout": "slideshow"}, "layout"),
        ({"theme": "neon"}, "theme"),
        ({"accent": "red"}, "accent"),
        ({"accent": "#fff;}body{x"}, "accent"),
    ],
)
def test_odd_query_parameters_are_a_clear_400_never_a_500(
    client: Client, params: dict[str, str], field: str
) -> None:
    got = embed_json(client, **params)
    frame = client.get(reverse("testimonials:embed_frame"), params)

    assert got.status_code == 400
    assert got.json()["code"] == "invalid"
    assert got.json()["message"].startswith(f"{field}:")
    assert frame.status_code == 400
    assert f"{field}:" in frame.content.decode()


def test_a_nul_byte_or_an_odd_tag_is_no_error(client: Client) -> None:
    approved_quote()

    assert embed_json(client, tag="\x00").status_code == 200
    assert embed_json(client, tag="é😀").json()["testimonials"] == []


def test_the_iframe_shows_customer_text_escaped_with_its_theme_and_accent(client: Client) -> None:
    approved_quote(comment=XSS, first_name='Eve"><b>', last_name="<i>Hacker</i>")

    page = client.get(
        reverse("testimonials:embed_frame"),
        {"survey": "customer-nps", "layout": "grid", "theme": "dark", "accent": "#ff6600"},
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "fh-grid fh-dark" in html
    assert "--fh-accent: #ff6600" in html
    assert "X-Frame-Options" not in page  # any website may frame it
    assert page["Access-Control-Allow-Origin"] == "*"


def test_the_json_carries_customer_text_as_data(client: Client) -> None:
    approved_quote(comment=XSS)

    got = embed_json(client)

    assert quotes(got) == [XSS]  # as written: widget.js sets it as text, never as HTML


@pytest.mark.throttled
def test_the_embeds_are_rate_limited_per_client_address(client: Client, settings: Any) -> None:
    settings.HUB_RATE_EMBEDS = "3/m"

    answers = [embed_json(client).status_code for _ in range(3)]
    busy = embed_json(client)
    frame = client.get(reverse("testimonials:embed_frame"))
    elsewhere = client.get(reverse("testimonials:embed_json"), REMOTE_ADDR="10.1.2.3")

    assert answers == [200, 200, 200]
    assert busy.status_code == 429
    assert busy.json()["code"] == "rate_limited"
    assert int(busy["Retry-After"]) > 0
    assert frame.status_code == 429
    assert elsewhere.status_code == 200
