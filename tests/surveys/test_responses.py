"""The public survey pages: one click answers, the follow-up and tags, changing the score, unsubscribing,
and a friendly page (never a server error) for every broken, expired or closed link."""

from datetime import timedelta
from functools import partial
from urllib.parse import quote

import pytest
import time_machine
from django.core import signing
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from customers.models import Suppression, suppression_hash
from surveys.models import Invitation, Response
from surveys.services.eligibility import histories_load
from surveys.services.responses import SurveyClosed, response_record
from surveys.services.tokens import invitation_token_make
from tests.surveys.factories_pages import (
    page_answer_form,
    page_click,
    page_invitation,
    page_path,
    page_person,
    page_source,
    page_survey,
)
from tests.threads import in_threads

pytestmark = pytest.mark.django_db


def test_a_score_link_shows_the_score_and_the_form_posts_it(client: Client) -> None:
    invitation = page_invitation()
    base = page_path(invitation)

    page = client.get(f"{base}?score=9")

    # Opening the link records nothing: mail scanners open every link of a message.
    assert page.status_code == 200
    assert Response.objects.count() == 0
    assert Invitation.objects.get().status == Invitation.Status.SENT
    html = page.content.decode()
    assert '<input class="choice" type="radio" name="rating" id="rating-9" value="9" checked>' in html
    assert '<script src="/static/surveys/respond.js" defer></script>' in html  # sends the form by itself
    assert "<script>" not in html  # nothing inline: a Content-Security-Policy may forbid it
    form = page_answer_form(html)
    assert form.action == base
    assert form.fields == {
        "csrfmiddlewaretoken": form.fields["csrfmiddlewaretoken"],
        "rating": "9",
        "step": "rating",
    }
    assert form.buttons == ["Confirm my score"]
    assert "What do you like most about us?" not in html  # the follow-up comes once the score is in

    answer = client.post(base, form.fields)

    # Recorded, then the page without ?score, so a later reload cannot undo a changed score.
    assert answer.status_code == 302
    assert answer["Location"] == base
    response = Response.objects.get()
    assert (response.invitation, response.person, response.rating) == (invitation, invitation.person, 9)
    assert response.language == "en"
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.RESPONDED
    assert invitation.responded_at == response.answered_at

    page = client.get(answer["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert "What do you like most about us?" in html  # the promoter follow-up
    assert "your score is saved" in html
    assert '<input class="choice" type="radio" name="rating" id="rating-9" value="9" checked>' in html
    assert "<legend>Support</legend>" in html
    assert "<legend>Price</legend>" in html


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_link_scanner_opening_every_score_link_answers_nothing(method: str) -> None:
    """Safe Links, Mimecast, Proofpoint: each link of the message fetched in a row, no cookies, no
    JavaScript, redirects followed."""
    invitation = page_invitation()
    base = page_path(invitation)

    for score in range(11):
        scanner = Client(enforce_csrf_checks=True)  # a fresh client: no cookie from an earlier fetch
        fetched = getattr(scanner, method)(f"{base}?score={score}", follow=True)
        assert fetched.status_code == 200

    assert Response.objects.count() == 0
    invitation.refresh_from_db()
    assert (invitation.status, invitation.responded_at) == (Invitation.Status.SENT, None)


def test_a_browser_that_refuses_cookies_gets_a_page_saying_so(client: Client) -> None:
    """The answer form needs the cookie its page sets (that is what a link scanner never sends back):
    a person whose browser refuses it is told why, in the survey's style, not shown Django's 403."""
    person = Client(enforce_csrf_checks=True)
    invitation = page_invitation()
    base = page_path(invitation)
    form = page_answer_form(person.get(f"{base}?score=8").content.decode())
    person.cookies.clear()

    refused = person.post(base, form.fields)

    assert refused.status_code == 403
    html = refused.content.decode()
    assert "Please allow cookies for this page" in html
    assert 'alt="Acme"' in html
    assert f'href="{base}"' in html
    assert Response.objects.count() == 0
    # Elsewhere (the admin) Django's own page stays.
    assert "CSRF verification failed" in person.post("/admin/login/", {}).content.decode()


def test_a_second_click_changes_the_same_response(client: Client) -> None:
    invitation = page_invitation()
    base = page_path(invitation)
    page_click(client, base, 9)
    first = Response.objects.get()
    responded_at = Invitation.objects.get().responded_at

    page = client.get(f"{base}?score=3")
    assert Response.objects.get().rating == 9  # opening the link changes nothing yet
    assert "your score is saved" not in page.content.decode()
    page_click(client, base, 3)

    response = Response.objects.get()
    assert (response.pk, response.rating, response.answered_at) == (first.pk, 3, first.answered_at)
    assert Invitation.objects.get().responded_at == responded_at  # the first answer's time
    assert "What could we do better?" in client.get(base).content.decode()


def test_followup_and_tag_ratings_are_stored_then_thanks() -> None:
    client = Client(enforce_csrf_checks=True)
    invitation = page_invitation()
    base = page_path(invitation)
    page_click(client, base, 7)
    page = client.get(base)
    assert "What would make you more enthusiastic about us?" in page.content.decode()
    csrf = client.cookies["csrftoken"].value  # set by the page itself: the form works on a fresh visit

    sent = client.post(
        base,
        {"csrfmiddlewaretoken": csrf, "rating": "8", "comment": "  Faster delivery, please.  ", "tag_1": "2"},
    )

    assert sent.status_code == 302
    assert sent["Location"] == f"{base}thanks/"
    response = Response.objects.get()
    assert (response.rating, response.comment, response.tag_ratings) == (
        8,
        "Faster delivery, please.",
        {"Price": 2},
    )
    thanks = client.get(sent["Location"])
    assert thanks.status_code == 200
    assert "Thank you for your feedback!" in thanks.content.decode()
    assert "Change your answer" in thanks.content.decode()

    # Coming back shows the answers as given, and sending again replaces them.
    again = client.get(base).content.decode()
    assert "Faster delivery, please.</textarea>" in again
    assert 'id="tag_1-2" value="2" checked' in again
    client.post(base, {"csrfmiddlewaretoken": csrf, "rating": "10", "tag_0": "5"})
    response.refresh_from_db()
    assert (response.rating, response.comment, response.tag_ratings) == (10, "", {"Support": 5})


def test_the_form_refuses_a_tag_rating_off_the_scale_and_keeps_what_was_typed(client: Client) -> None:
    invitation = page_invitation()
    base = page_path(invitation)
    page_click(client, base, 4)

    sent = client.post(base, {"rating": "4", "comment": "Slow support", "tag_0": "6"})

    assert sent.status_code == 400
    html = sent.content.decode()
    assert 'role="alert"' in html
    assert "<li>Support: Select a valid choice. 6 is not one of the available choices.</li>" in html
    assert "Slow support</textarea>" in html
    assert Response.objects.get().comment == ""


def test_opening_the_page_without_a_score_asks_for_one_first(client: Client) -> None:
    invitation = page_invitation()
    base = page_path(invitation)
    page = client.get(base).content.decode()
    assert 'name="step" value="rating"' in page
    assert 'name="comment"' not in page
    assert Response.objects.count() == 0

    sent = client.post(base, {"rating": "6", "step": "rating"})

    assert sent["Location"] == base
    assert Response.objects.get().rating == 6
    assert "What could we do better?" in client.get(base).content.decode()


def test_pages_carry_the_survey_branding_and_language(client: Client) -> None:
    survey = page_survey(dutch=True)
    invitation = page_invitation(survey=survey, person=page_person(language="nl-BE"))
    base = page_path(invitation)

    page_click(client, base, 2)
    html = client.get(base).content.decode()

    assert '<html lang="nl">' in html
    assert "Hoe waarschijnlijk is het dat je Acme aanbeveelt?" in html
    assert "Wat kunnen we beter doen?" in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'src="https://cdn.example.com/acme-logo.png" alt="Acme"' in html
    assert "--accent: #0b7a53;" in html
    assert "Acme Ltd · 1 Main Street, Springfield" in html
    assert Response.objects.get().language == "nl"


@pytest.mark.parametrize("score", ["11", "-1", "abc", "", "٣", "1_0", " 5", "5.0", "10000000000000000000000"])
def test_a_score_off_the_scale_gets_a_friendly_page(client: Client, score: str) -> None:
    invitation = page_invitation()
    base = page_path(invitation)

    page = client.get(f"{base}?score={quote(score)}")

    assert page.status_code == 400
    html = page.content.decode()
    assert "Please pick a score from 0 to 10" in html
    assert 'alt="Acme"' in html  # in the survey's style
    assert f'href="{base}"' in html
    assert Response.objects.count() == 0


def test_a_tampered_link_or_unknown_invitation_gets_a_not_found_page(client: Client) -> None:
    token = invitation_token_make(invitation=page_invitation())
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    unknown = signing.TimestampSigner(salt="surveys.invitation").sign("999999")

    for link in (
        f"/s/{tampered}/?score=5",
        f"/s/{unknown}/",
        f"/s/{unknown}/thanks/",
        f"/s/{tampered}/unsubscribe/",
    ):
        page = client.get(link)
        assert page.status_code == 404, link
        assert "This link does not work" in page.content.decode()
    assert Response.objects.count() == 0


def test_an_expired_link_gets_a_closed_page_in_the_survey_style(client: Client) -> None:
    invitation = page_invitation()
    base = page_path(invitation)
    link = f"{base}?score=10"

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        page = client.get(link)

    assert page.status_code == 410
    html = page.content.decode()
    assert "This survey has closed" in html
    assert "The link in your email has expired" in html
    assert 'alt="Acme"' in html
    assert Response.objects.count() == 0


@pytest.mark.parametrize("status", [Invitation.Status.EXPIRED, Invitation.Status.CANCELLED])
def test_a_closed_invitation_takes_no_answer_and_no_change(client: Client, status: str) -> None:
    invitation = page_invitation()
    base = page_path(invitation)
    page_click(client, base, 5)
    Invitation.objects.filter(pk=invitation.pk).update(status=status)

    click = client.get(f"{base}?score=9")
    post = client.post(base, {"rating": "9", "comment": "late"})

    assert (click.status_code, post.status_code) == (410, 410)
    assert "Answers to this survey are no longer taken" in click.content.decode()
    assert (Response.objects.get().rating, Response.objects.get().comment) == (5, "")
    with pytest.raises(SurveyClosed):
        response_record(invitation=invitation, rating=1)


def test_an_erased_person_s_link_takes_no_answer(client: Client) -> None:
    invitation = page_invitation()
    base = page_path(invitation)
    Invitation.objects.filter(pk=invitation.pk).update(person=None)

    assert client.get(f"{base}?score=5").status_code == 410
    assert client.post(f"{base}unsubscribe/").status_code == 200
    assert Response.objects.count() == 0


def _suppressions() -> set[tuple[str, str, str]]:
    return set(Suppression.objects.values_list("kind", "value_hash", "reason"))


def test_unsubscribe_page_then_button_suppresses_the_person_for_every_survey(client: Client) -> None:
    person = page_person(email="Ann@Example.com")
    invitation = page_invitation(person=person)
    base = page_path(invitation)
    other_survey = page_survey(name="Support NPS", slug="support-nps")
    pending = page_invitation(survey=other_survey, person=person, status=Invitation.Status.SCHEDULED)
    someone_else = page_invitation(
        survey=other_survey, person=page_person(user_id="u-7", email="bob@example.com"), status="scheduled"
    )

    page = client.get(f"{base}unsubscribe/")
    assert page.status_code == 200
    assert "After this you will get no more survey emails from Acme." in page.content.decode()
    assert '<button type="submit" class="button">Unsubscribe</button>' in page.content.decode()
    assert Suppression.objects.count() == 0  # a GET (or a link checker) changes nothing

    done = client.post(f"{base}unsubscribe/", {})

    assert done.status_code == 200
    assert "You are unsubscribed" in done.content.decode()
    assert _suppressions() == {
        ("email", suppression_hash("email", "ann@example.com"), "unsubscribed"),
        ("user_id", suppression_hash("user_id", "u-42"), "unsubscribed"),
    }
    pending.refresh_from_db()
    assert (pending.status, pending.error) == (Invitation.Status.CANCELLED, "unsubscribed")
    assert Invitation.objects.get(pk=invitation.pk).status == Invitation.Status.SENT
    assert Invitation.objects.get(pk=someone_else.pk).status == Invitation.Status.SCHEDULED
    history = histories_load(surveys=[other_survey], people=[person])[(other_survey.pk, person.pk)]
    assert history.suppression is not None
    assert history.suppression.reason == "unsubscribed"

    # Twice is the same as once.
    assert client.post(f"{base}unsubscribe/").status_code == 200
    assert Suppression.objects.count() == 2


def test_one_click_unsubscribe_from_a_mail_provider_needs_no_csrf_token() -> None:
    """RFC 8058: the provider POSTs `List-Unsubscribe=One-Click` with no cookie and no CSRF token."""
    invitation = page_invitation(person=page_person(user_id=None))
    base = page_path(invitation)
    pending = page_invitation(
        survey=page_survey(name="Support NPS", slug="support-nps"),
        person=invitation.person,
        status="scheduled",
    )
    provider = Client(enforce_csrf_checks=True)

    answer = provider.post(
        f"{base}unsubscribe/",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )

    assert answer.status_code == 200
    assert _suppressions() == {("email", suppression_hash("email", "ann@example.com"), "unsubscribed")}
    assert Invitation.objects.get(pk=pending.pk).status == Invitation.Status.CANCELLED
    # The answer form itself still wants its CSRF token.
    assert provider.post(base, {"rating": "5"}).status_code == 403


def test_an_unsubscribe_link_keeps_working_after_the_survey_link_expired(client: Client) -> None:
    invitation = page_invitation()
    base = page_path(invitation)
    link = f"{base}unsubscribe/"

    with time_machine.travel(timezone.now() + timedelta(days=400)):
        answer = client.post(
            link, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
        )

    assert answer.status_code == 200
    assert Suppression.objects.filter(reason="unsubscribed").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_make_one_response() -> None:
    invitation = page_invitation(person=page_person(source=page_source()))
    clicks = [partial(response_record, invitation=invitation, rating=rating) for rating in (2, 9)]
    in_threads(*clicks)  # raises what a click raised

    assert Response.objects.get().rating in (2, 9)
    assert Invitation.objects.get().status == Invitation.Status.RESPONDED


# --- no link, body or header makes a server error ----------------------------------------------------

_TEXT = st.text(max_size=60)
_NUMBERISH = st.one_of(_TEXT, st.integers(-20, 30).map(str), st.from_regex(r"\A[0-9\s+_.-]{0,6}\Z"))


@pytest.mark.usefixtures("rates_off")  # 150 requests in a row: far past the pages' rate
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    token=st.one_of(_TEXT, st.sampled_from(["valid", "expired-shape"]), _TEXT.map(lambda s: "valid" + s)),
    score=st.one_of(st.none(), _NUMBERISH),
    comment=_TEXT,
    tag=_NUMBERISH,
    path=st.sampled_from(["", "thanks/", "unsubscribe/"]),
    method=st.sampled_from(["get", "post", "head", "put"]),
)
@example(token="valid", score="5", comment="\x00", tag="1", path="", method="post")
@example(token="valid\x00", score="\x00", comment="", tag="\x00", path="", method="get")
@example(token="expired-shape", score="3", comment="", tag="", path="unsubscribe/", method="post")
def test_no_token_or_score_makes_a_server_error(
    client: Client, token: str, score: str | None, comment: str, tag: str, path: str, method: str
) -> None:
    invitation = Invitation.objects.first() or page_invitation()
    valid = invitation_token_make(invitation=invitation)
    token = token.replace("valid", valid, 1) if token.startswith("valid") else token
    if token == "expired-shape":
        token = f"{invitation.pk}:{'x' * 6}:{'y' * 20}"
    url = f"/s/{quote(token, safe='')}/{path}" + (f"?score={quote(score)}" if score is not None else "")
    data = {"rating": score or "", "comment": comment, "tag_0": tag, "tag_1": tag, "step": comment}

    # The test client re-raises a view's exception, so a 500 would fail here.
    answer = client.post(url, data) if method == "post" else getattr(client, method)(url)

    assert answer.status_code < 500


def test_a_broken_multipart_body_is_a_bad_request_not_a_server_error(client: Client) -> None:
    invitation = page_invitation()
    base = page_path(invitation)
    for path in ("", "unsubscribe/"):
        answer = client.generic(
            "POST",
            base + path,
            b"--x\r\nContent-Disposition: form-data; name\r\n\r\n\xff\xfe",
            content_type="multipart/form-data; boundary=",
        )
        assert answer.status_code < 500


@pytest.mark.parametrize(
    ("stored", "accent", "on_accent", "ink"),
    [
        ("#0b7a53", "#0b7a53", "#ffffff", "#0b7a53"),
        ("#ffd400", "#ffd400", "#111111", "#1f2937"),  # too pale for white text or for links on white
        ("red;}a{", "#2f6fed", "#ffffff", "#2f6fed"),  # never written into the page as is
    ],
)
def test_the_accent_colour_stays_readable(
    client: Client, stored: str, accent: str, on_accent: str, ink: str
) -> None:
    invitation = page_invitation(survey=page_survey(accent_color=stored))

    html = client.get(page_path(invitation)).content.decode()

    assert f"--accent: {accent}; --on-accent: {on_accent}; --accent-ink: {ink};" in html
