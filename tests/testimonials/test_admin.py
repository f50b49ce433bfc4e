"""The moderation queue: pending quotes with score, person and account; approve, hide, feature (staff
with the change permission only); trims keep the customer's words (checked on the server); the
survey's admin page carries the copy-paste embeds."""

from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from testimonials.models import Testimonial
from testimonials.services import testimonials_moderate
from tests.testimonials.helpers import (
    COMMENT,
    account_join,
    answered,
    approved_quote,
    consent_post,
    embed_json,
)

pytestmark = pytest.mark.django_db

QUEUE = "/admin/testimonials/testimonial/"


def pending(comment: str = COMMENT, **answer: Any) -> Testimonial:
    _, response, token = answered(comment=comment, **answer)
    account_join(response.person, name="Globex")  # type: ignore[arg-type]
    consent_post(Client(), token)
    return Testimonial.objects.get(response=response)


def test_the_queue_opens_on_pending_quotes_with_score_person_and_account(admin_client: Client) -> None:
    waiting = pending(rating=9)
    approved_quote(comment="Already approved and shown.")

    page = unescape(admin_client.get(QUEUE).content.decode())

    assert COMMENT[:60] in page
    assert "Already approved" not in page
    assert '"field-rating">9<' in page
    assert '"field-account">Globex<' in page
    assert ">Ann Peeters<" in page
    assert "pending moderation" in page
    everything = unescape(admin_client.get(QUEUE + "?status=all").content.decode())
    assert "Already approved" in everything
    assert waiting.status == Testimonial.Status.PENDING


@pytest.mark.parametrize(
    ("action", "status", "featured", "public"),
    [
        ("approve", "approved", False, True),
        ("feature", "approved", True, True),
        ("hide", "hidden", False, False),
    ],
)
def test_staff_approve_feature_and_hide_from_the_queue(
    admin_client: Client, action: str, status: str, featured: bool, public: bool
) -> None:
    testimonial = pending()

    done = admin_client.post(QUEUE, {"action": action, "_selected_action": [testimonial.pk]}, follow=True)

    assert "1 testimonial(s)" in done.content.decode()
    testimonial.refresh_from_db()
    assert (testimonial.status, testimonial.featured) == (status, featured)
    assert bool(embed_json(Client()).json()["testimonials"]) is public


def test_staff_who_may_only_view_cannot_moderate(client: Client, staff_user: Any) -> None:
    staff_user.user_permissions.add(Permission.objects.get(codename="view_testimonial"))
    client.force_login(staff_user)
    testimonial = pending()

    page = client.get(QUEUE).content.decode()
    client.post(QUEUE, {"action": "approve", "_selected_action": [testimonial.pk]})

    assert 'value="approve"' not in page
    testimonial.refresh_from_db()
    assert testimonial.status == Testimonial.Status.PENDING


def change(admin_client: Client, testimonial: Testimonial, quote: str, tags: str = "") -> Any:
    return admin_client.post(f"{QUEUE}{testimonial.pk}/change/", {"quote": quote, "tags": tags})


def test_a_trim_is_kept_with_its_ellipsis_and_shown_in_the_embeds(admin_client: Client) -> None:
    testimonial = approved_quote()

    saved = change(admin_client, testimonial, "The onboarding call was great", tags="onboarding, Support")

    assert saved.status_code == 302
    testimonial.refresh_from_db()
    assert testimonial.quote == "The onboarding call was great…"
    assert testimonial.original == COMMENT  # the customer's words stay as they were
    assert testimonial.tags == ["onboarding", "Support"]
    assert [t["quote"] for t in embed_json(Client(), tag="support").json()["testimonials"]] == [
        testimonial.quote
    ]


@pytest.mark.parametrize(
    "quote",
    ["The onboarding call was amazing", "Best product ever!", "great, The onboarding call", "", "\x00"],
)
def test_a_rewrite_is_refused_on_the_server(admin_client: Client, quote: str) -> None:
    testimonial = approved_quote()

    refused = change(admin_client, testimonial, quote)

    assert refused.status_code == 200
    assert "errornote" in refused.content.decode()
    testimonial.refresh_from_db()
    assert testimonial.quote == COMMENT


def test_staff_cannot_add_a_testimonial_of_their_own(admin_client: Client) -> None:
    assert admin_client.get(QUEUE + "add/").status_code == 403


def test_a_withdrawn_quote_cannot_be_edited(admin_client: Client) -> None:
    testimonial = approved_quote()
    Testimonial.objects.filter(pk=testimonial.pk).update(status="withdrawn", quote="", original="")

    page = admin_client.get(f"{QUEUE}{testimonial.pk}/change/").content.decode()

    assert 'name="quote"' not in page
    assert testimonials_moderate(testimonials=[testimonial], action="approve") == 0


def test_the_survey_page_has_the_copy_paste_embeds(admin_client: Client, settings: Any) -> None:
    settings.HUB_BASE_URL = "https://hub.acme.example"
    testimonial = approved_quote()

    page = unescape(
        admin_client.get(f"/admin/surveys/survey/{testimonial.survey_id}/change/").content.decode()
    )

    assert 'src="https://hub.acme.example/static/testimonials/widget.js" async></script>' in page
    assert 'class="feedback-hub-testimonials" data-survey="customer-nps" data-layout="carousel"' in page
    assert '<iframe src="https://hub.acme.example/embed/testimonials/?survey=customer-nps' in page
    assert "https://hub.acme.example/embed/testimonials.json?survey=customer-nps&limit=6" in page
