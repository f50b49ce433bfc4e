"""The public survey pages a person reaches from the email: answer, thank-you, unsubscribe.

Server-rendered forms that work without JavaScript. Views only validate and delegate to
surveys/services/responses.py. Whatever the link, body or header, a person gets a page in the survey's
style (where the invitation is known), never a server error.
"""

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.csrf import csrf_failure as django_csrf_failure
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from customers.selectors import person_unsubscribed_since
from hub.cleaning import parse_id
from hub.pipeline import THANKS_PAGE_PARTS, pipeline_functions
from hub.throttle import client_network, rate_exceeded
from surveys.models import Invitation, Response, Survey, comment_is_stale
from surveys.services.content import Texts, survey_texts
from surveys.services.responses import (
    COMMENT_MAX_LENGTH,
    SurveyClosed,
    invitation_is_open,
    person_unsubscribe,
    response_followup_save,
    response_record,
)
from surveys.services.tokens import TokenExpired, TokenInvalid, invitation_token_read

SCORES = range(11)
_SCORE = re.compile(r"10|[0-9]", re.ASCII)
_COLOR = re.compile(r"#[0-9a-fA-F]{6}", re.ASCII)
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*", re.ASCII)
DEFAULT_ACCENT = "#2f6fed"
View = Callable[[HttpRequest, str], HttpResponse]


# --- the look of a page -----------------------------------------------------------------------------


def _luminance(color: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass(frozen=True)
class Look:
    """Branding and language of a page; `Look()` is the neutral style for links we cannot place."""

    texts: Texts | None = None
    company: str = ""
    logo_url: str = ""
    accent: str = DEFAULT_ACCENT
    lang: str = "en"
    token: str = ""

    @property
    def on_accent(self) -> str:
        """Text on accent-coloured buttons: white or near-black, whichever reads better."""
        return (
            "#ffffff" if _contrast(self.accent, "#ffffff") >= _contrast(self.accent, "#111111") else "#111111"
        )

    @property
    def accent_ink(self) -> str:
        """The accent for links and focus rings on white, unless it is too pale to read (WCAG 4.5:1)."""
        return self.accent if _contrast(self.accent, "#ffffff") >= 4.5 else "#1f2937"

    @property
    def logo_alt(self) -> str:
        return self.company or _("Logo")


def page_look(invitation: Invitation, token: str) -> Look:
    """The look of the pages of `invitation`'s survey (`token`: its link, for the footer's links)."""
    return _look(invitation, token)


def _look(invitation: Invitation, token: str) -> Look:
    survey: Survey = invitation.survey
    person = invitation.person
    texts = survey_texts(survey=survey, language=(person.language if person else "") or invitation.language)
    # Stored values are shown to the public: only what the admin's validators would accept.
    accent = survey.accent_color if _COLOR.fullmatch(survey.accent_color or "") else DEFAULT_ACCENT
    logo = survey.logo_url if survey.logo_url.startswith(("https://", "http://")) else ""
    lang = texts.language if _LANGUAGE.fullmatch(texts.language or "") else "en"
    return Look(
        texts=texts, company=survey.company_name, logo_url=logo, accent=accent, lang=lang, token=token
    )


def _render(
    request: HttpRequest, template: str, look: Look, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return page_render(request, f"surveys/respond/{template}", look, context, status=status)


def page_render(
    request: HttpRequest, template: str, look: Look, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    """A page in a survey's style and language (later stages' pages under a survey link use it too)."""
    language = look.lang if translation.check_for_language(look.lang) else settings.LANGUAGE_CODE
    with translation.override(language):
        return render(request, template, {"look": look, **context}, status=status)


ERRORS = {
    "invalid": (
        _lazy("This link does not work"),
        _lazy(
            "The link may be incomplete or altered. Please open it again from the email, copying it whole."
        ),
    ),
    "expired": (
        _lazy("This survey has closed"),
        _lazy("The link in your email has expired, so answers are no longer taken. Thank you all the same."),
    ),
    "closed": (
        _lazy("This survey has closed"),
        _lazy("Answers to this survey are no longer taken. Thank you all the same."),
    ),
    "busy": (
        _lazy("Too many requests"),
        _lazy(
            "Survey pages were opened very often from this address in a short time. "
            "Please wait a minute, then open the link again."
        ),
    ),
    "score": (
        _lazy("Please pick a score from 0 to 10"),
        _lazy("The score in this link is not one we know. Choose yours on the survey page."),
    ),
    "cookies": (
        _lazy("Please allow cookies for this page"),
        _lazy(
            "Your browser did not send back the cookie this page needs, so your answer was not saved. "
            "Allow cookies for this site, then choose your score again."
        ),
    ),
}


def _error(request: HttpRequest, look: Look, what: str, status: int) -> HttpResponse:
    title, message = ERRORS[what]
    context = {"title": title, "message": message, "retry": what in ("score", "cookies")}
    return _render(request, "error.html", look, context, status=status)


def _invitation_of_expired_token(token: str) -> Invitation | None:
    # TokenExpired is raised only after the signature checked out, so the signed value (the invitation
    # id, before the timestamp and the signature) is genuine.
    pk = parse_id(token.rsplit(":", 2)[0])
    if pk is None:
        return None
    return Invitation.objects.select_related("survey", "person").filter(pk=pk).first()


def _look_of_token(token: str) -> Look:
    """The style of the survey a link names, or the neutral one for a link that names none."""
    try:
        invitation: Invitation | None = invitation_token_read(token=token)
    except TokenInvalid:
        invitation = None
    except TokenExpired:
        invitation = _invitation_of_expired_token(token)
    return _look(invitation, token) if invitation is not None else Look()


def throttled(*, exempt: tuple[str, ...] = ()) -> Callable[[View], View]:
    """Past HUB_RATE_SURVEY_PAGES requests from one client address, the survey's own page says to wait
    (429, Retry-After) instead of the view answering. Requests of the `exempt` methods are not counted."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, token: str) -> HttpResponse:
            if request.method in exempt:
                return view(request, token)
            rate = settings.HUB_RATE_SURVEY_PAGES
            wait = rate_exceeded(request, scope="survey pages", rate=rate, key=client_network(request))
            if wait is None:
                return view(request, token)
            page = _error(request, _look_of_token(token), "busy", 429)
            page["Retry-After"] = str(wait)
            return page

        return wrapper

    return decorator


def page_invitation(request: HttpRequest, token: str) -> Invitation | HttpResponse:
    """The invitation a survey link names, or the friendly page saying why not (404, 410)."""
    return _invitation(request, token)


def _invitation(request: HttpRequest, token: str) -> Invitation | HttpResponse:
    """The invitation the link names, or the friendly page saying why not (404, 410)."""
    try:
        return invitation_token_read(token=token)
    except TokenInvalid:
        return _error(request, Look(), "invalid", 404)
    except TokenExpired:
        invitation = _invitation_of_expired_token(token)
        look = _look(invitation, token) if invitation else Look()
        return _error(request, look, "expired", 410)


# --- answering ------------------------------------------------------------------------------------


def _tags(survey: Survey) -> list[str]:
    tags = survey.tags if isinstance(survey.tags, list) else []
    return list(dict.fromkeys(t for t in tags if isinstance(t, str) and t.strip()))


class AnswerForm(forms.Form):
    """The score (changeable), the follow-up answer and one optional rating per tag (field tag_<n>)."""

    rating = forms.TypedChoiceField(
        label=_lazy("Score"), choices=[(str(n), str(n)) for n in SCORES], coerce=int
    )
    comment = forms.CharField(
        label=_lazy("Your answer"), required=False, max_length=COMMENT_MAX_LENGTH, strip=True
    )
    step = forms.CharField(required=False, max_length=20)

    def __init__(self, *args: Any, tags: list[str], tag_scale: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tags = tags
        for index, tag in enumerate(tags):
            self.fields[f"tag_{index}"] = forms.TypedChoiceField(
                label=tag,
                required=False,
                choices=[("", "")] + [(str(n), str(n)) for n in range(1, tag_scale + 1)],
                coerce=int,
                empty_value=None,
            )

    def tag_ratings(self) -> dict[str, int]:
        ratings = ((tag, self.cleaned_data.get(f"tag_{i}")) for i, tag in enumerate(self.tags))
        return {tag: value for tag, value in ratings if value is not None}


def _answer_page(
    request: HttpRequest,
    look: Look,
    invitation: Invitation,
    response: Response | None,
    form: AnswerForm | None = None,
    status: int = 200,
    chosen: int | None = None,
) -> HttpResponse:
    """The answer page. `chosen`: the score of the email's link, selected and not yet sent."""
    survey = invitation.survey
    texts = look.texts
    assert texts is not None
    tags = _tags(survey)
    data: dict[str, Any] = {}
    if form is not None and form.is_bound:
        data = {name: form.data.get(name, "") for name in ("rating", "comment", "step")}
        data |= {f"tag_{i}": form.data.get(f"tag_{i}", "") for i in range(len(tags))}
    elif response is not None:
        data = {"rating": str(response.rating), "comment": response.comment}
        data |= {f"tag_{i}": str(response.tag_ratings.get(tag, "")) for i, tag in enumerate(tags)}
    rating = data.get("rating", "")
    shown_rating = int(rating) if isinstance(rating, str) and _SCORE.fullmatch(rating) else None
    if chosen is not None:
        shown_rating = chosen
    elif response is not None and shown_rating is None:
        shown_rating = response.rating
    errors: list[tuple[str, str]] = []
    if form is not None and form.is_bound:
        for name, messages in form.errors.items():
            label = str(form.fields[name].label or "") if name in form.fields else ""
            errors += [(label, str(message)) for message in messages]
    # A comment given for another band's question (the score changed since): shown under the new
    # question with the one it answered, to keep or change; it is not sent meanwhile.
    comment_band = response.comment_band if response is not None and response.comment else ""
    earlier_shown = (
        response is not None
        and shown_rating is not None
        and comment_is_stale(comment=response.comment, comment_band=comment_band, rating=shown_rating)
    )
    context = {
        "response": response,
        "comment_band": comment_band,
        "earlier_question": getattr(texts, f"followup_{comment_band}", "") if comment_band else "",
        "earlier_shown": earlier_shown,
        "errors": errors,
        "scores": [{"value": n, "checked": n == shown_rating} for n in SCORES],
        "comment": data.get("comment", ""),
        "comment_max": COMMENT_MAX_LENGTH,
        "followup": texts.followup(shown_rating) if shown_rating is not None else "",
        "followups": {
            "detractor": texts.followup_detractor,
            "passive": texts.followup_passive,
            "promoter": texts.followup_promoter,
        },
        "tags": [
            {
                "name": tag,
                "field": f"tag_{i}",
                "options": [
                    {"value": n, "checked": str(n) == str(data.get(f"tag_{i}", ""))}
                    for n in range(1, survey.tag_scale + 1)
                ],
            }
            for i, tag in enumerate(tags)
        ],
        "tag_scale": survey.tag_scale,
        # The follow-up shows once a score is recorded; a person who opens the page without one picks
        # a score first (step "rating"), and the email's link sends its score first.
        "ask_followup": chosen is None
        and (response is not None or bool(form and form.is_bound and data.get("step") != "rating")),
        "confirm": chosen is not None,
    }
    return _render(request, "respond.html", look, context, status=status)


@never_cache
@throttled()
@require_http_methods(["GET", "HEAD", "POST"])
def respond(request: HttpRequest, token: str) -> HttpResponse:
    """GET ?score=N (the email's buttons) shows N ready to send; POST records it, then the follow-up.

    Only a POST answers: mail scanners (Safe Links, Mimecast, Proofpoint) fetch every link of a
    message, and if a GET recorded the score the last link they fetched would be the answer. A
    browser sends the form at once (surveys/static/surveys/respond.js); without JavaScript the person
    presses "Confirm my score". The form needs the CSRF cookie the page sets, which a scanner that
    fetches each link on its own never sends back.
    """
    found = _invitation(request, token)
    if isinstance(found, HttpResponse):
        return found
    invitation = found
    look = _look(invitation, token)
    if not invitation_is_open(invitation=invitation):
        return _error(request, look, "closed", 410)
    here = reverse("surveys:respond", args=[token])
    response = Response.objects.filter(invitation=invitation).first()
    try:
        if request.method == "POST":
            form = AnswerForm(
                request.POST, tags=_tags(invitation.survey), tag_scale=invitation.survey.tag_scale
            )
            if not form.is_valid():
                return _answer_page(request, look, invitation, response, form, status=400)
            response = response_record(invitation=invitation, rating=form.cleaned_data["rating"])
            if form.cleaned_data["step"] == "rating":
                return HttpResponseRedirect(here)
            response_followup_save(
                response=response, comment=form.cleaned_data["comment"], tag_ratings=form.tag_ratings()
            )
            return HttpResponseRedirect(reverse("surveys:thanks", args=[token]))
        score = request.GET.get("score")
        if score is not None:
            if not _SCORE.fullmatch(score):
                return _error(request, look, "score", 400)
            return _answer_page(request, look, invitation, response, chosen=int(score))
    except SurveyClosed:
        return _error(request, look, "closed", 410)
    return _answer_page(request, look, invitation, response)


@never_cache
@throttled()
@require_http_methods(["GET", "HEAD"])
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    found = _invitation(request, token)
    if isinstance(found, HttpResponse):
        return found
    invitation = found
    if not Response.objects.filter(invitation=invitation).exists():
        return HttpResponseRedirect(reverse("surveys:respond", args=[token]))
    look = _look(invitation, token)
    # Later stages add to the page (hub/pipeline.py THANKS_PAGE_PARTS), e.g. the testimonial question.
    parts = [
        part(request, invitation=invitation, look=look) for part in pipeline_functions(THANKS_PAGE_PARTS)
    ]
    context = {"can_change": invitation_is_open(invitation=invitation), "parts": parts}
    return _render(request, "thanks.html", look, context)


@csrf_exempt  # RFC 8058 one-click: mail providers POST "List-Unsubscribe=One-Click" without a CSRF token
@never_cache
@throttled(exempt=("POST",))  # an unsubscribe (a person's, or a mail provider's one-click) is never refused
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a confirmation button. POST (that button or a mail provider's one-click): no more surveys.

    The body is not read: any POST to a genuine link unsubscribes. An expired link still does, as an
    unsubscribe link must keep working long after the email was sent.
    """
    try:
        invitation: Invitation | None = invitation_token_read(token=token)
    except TokenInvalid:
        return _error(request, Look(), "invalid", 404)
    except TokenExpired:
        invitation = _invitation_of_expired_token(token)
        if invitation is None:
            return _error(request, Look(), "invalid", 404)
    assert invitation is not None
    look = _look(invitation, token)
    person = invitation.person
    if request.method == "POST":
        person_unsubscribe(invitation=invitation)
    # Reopened after unsubscribing: say since when, instead of asking again. Erased: nothing to ask.
    since = person_unsubscribed_since(person=person) if person is not None else None
    done = person is None or since is not None or request.method == "POST"
    return _render(request, "unsubscribe.html", look, {"done": done, "since": since})


def respond_preview(request: HttpRequest, *, invitation: Invitation, response: Response) -> HttpResponse:
    """The answer page for an unsaved invitation and response (the admin's preview): no live links."""
    return _answer_page(request, _look(invitation, "preview"), invitation, response)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: on the answer page, a page in the survey's style that says what to do.

    Every answer is a POST that needs the cookie its page set (a mail scanner fetching the link never
    sends it back), so a person whose browser refuses cookies lands here. Elsewhere: Django's page.
    """
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return django_csrf_failure(request, reason=reason)
    if match.view_name != "surveys:respond":
        return django_csrf_failure(request, reason=reason)
    found = _invitation(request, match.kwargs["token"])
    if isinstance(found, HttpResponse):
        return found
    return _error(request, _look(found, match.kwargs["token"]), "cookies", 403)
