"""The public pages of testimonials: the question on a promoter's thank-you page (a part of surveys'
page, named in hub/pipeline.py), the consent it posts, the withdrawal link, and the embeds (JSON with
CORS and ETag, and the iframe page; the script embed is testimonials/static/testimonials/widget.js).

Views only validate and delegate (testimonials/services.py, selectors.py). No link, body or query
parameter gets a server error: a person gets a page, an embed a JSON {"code", "message"} or a short
page saying what is wrong.
"""

import contextlib
import hashlib
from typing import Any

import orjson
from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import get_conditional_response
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_http_methods

from customers.models import Person
from hub.api import error_response
from hub.throttle import client_network, rate_exceeded, too_many_requests
from surveys.models import Invitation, Response
from surveys.services.responses import invitation_is_open
from surveys.views import Look, page_invitation, page_look, page_render, throttled
from testimonials.embeds import EmbedInvalid, EmbedOptions, embed_options_parse
from testimonials.models import Testimonial
from testimonials.quotes import name_shown
from testimonials.selectors import consent_asked, consent_wording, testimonials_shown
from testimonials.services import (
    COMPANY_MAX_LENGTH,
    ConsentNotAsked,
    person_company,
    testimonial_consent,
    testimonial_withdraw,
)
from testimonials.tokens import withdraw_token_make, withdraw_token_read

# --- the question on the thank-you page -------------------------------------------------------------


class ConsentForm(forms.Form):
    consent = forms.BooleanField(
        required=True, error_messages={"required": _lazy("Tick the box to let us quote you.")}
    )
    name_display = forms.ChoiceField(choices=Testimonial.NameDisplay.choices)
    company = forms.CharField(required=False, max_length=COMPANY_MAX_LENGTH, strip=True)


NAME_CHOICES = (
    (Testimonial.NameDisplay.FULL, _lazy("My full name")),
    (Testimonial.NameDisplay.FIRST_INITIAL, _lazy("My first name and initial")),
    (Testimonial.NameDisplay.ANONYMOUS, _lazy("Anonymous")),
)


def _name_choices(person: Person) -> list[dict[str, Any]]:
    """How the person may be named, each as it would show ("Ann Peeters", "Ann P."), known names only."""
    names = {"first_name": person.first_name, "last_name": person.last_name, "name": person.name}
    choices = []
    for value, label in NAME_CHOICES:
        shown = name_shown(display=value, **names)
        if value == Testimonial.NameDisplay.ANONYMOUS or shown:
            choices.append({"value": value, "label": label, "shown": shown})
    return choices


def thanks_part(request: HttpRequest, *, invitation: Invitation, look: Look) -> str:
    """On the thank-you page: the question (to the bands the survey asks, with a comment), or what
    became of the consent given, with its withdrawal link. Empty for everyone else."""
    response = Response.objects.select_related("survey", "person").filter(invitation=invitation).first()
    if response is None:
        return ""
    context: dict[str, Any] = {"look": look}
    testimonial = Testimonial.objects.filter(response=response).first()
    if testimonial is not None:
        context["testimonial"] = testimonial
        if testimonial.status != Testimonial.Status.WITHDRAWN:
            token = withdraw_token_make(testimonial=testimonial)
            context["withdraw_url"] = reverse("testimonials:withdraw", args=[token])
    elif invitation_is_open(invitation=invitation) and consent_asked(response=response):
        assert response.person is not None  # consent_asked refuses erased people
        context |= {
            "quote": response.comment,
            "wording": consent_wording(survey=response.survey, language=look.lang),
            "names": _name_choices(response.person),
            "company": person_company(person=response.person),
            "company_max": COMPANY_MAX_LENGTH,
            "missing": request.GET.get("quote") == "consent-missing",
        }
    else:
        return ""
    return render_to_string("testimonials/thanks_part.html", context, request=request)


@never_cache
@throttled()
@require_http_methods(["POST"])
def consent(request: HttpRequest, token: str) -> HttpResponse:
    """The thank-you page's form: the person agrees to be quoted (back to the thank-you page)."""
    found = page_invitation(request, token)
    if isinstance(found, HttpResponse):
        return found
    invitation = found
    thanks = reverse("surveys:thanks", args=[token])
    response = Response.objects.select_related("survey", "person").filter(invitation=invitation).first()
    if response is None or not invitation_is_open(invitation=invitation):
        return HttpResponseRedirect(thanks)
    form = ConsentForm(request.POST)
    if not form.is_valid():
        return HttpResponseRedirect(f"{thanks}?quote=consent-missing#quote")
    look = page_look(invitation, token)
    # No longer asked (score changed, unsubscribed): the thank-you page then shows no question.
    with contextlib.suppress(ConsentNotAsked):
        testimonial_consent(
            response=response,
            name_display=form.cleaned_data["name_display"],
            company=form.cleaned_data["company"],
            language=look.lang,
        )
    return HttpResponseRedirect(f"{thanks}#quote")


# --- withdrawal ----------------------------------------------------------------------------------


@never_cache
@throttled(exempt=("POST",))  # a withdrawal is never refused
@require_http_methods(["GET", "HEAD", "POST"])
def withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """GET: the quote and a button. POST: the consent is withdrawn, the quote leaves every embed."""
    testimonial = withdraw_token_read(token=token)
    if testimonial is None:
        return page_render(request, "testimonials/withdraw.html", Look(), {"unknown": True}, status=404)
    look = page_look(testimonial.response.invitation, "")
    if request.method == "POST":
        testimonial_withdraw(testimonial=testimonial)
        testimonial.refresh_from_db()
    return page_render(request, "testimonials/withdraw.html", look, {"testimonial": testimonial})


# --- embeds ----------------------------------------------------------------------------------------


def _embed_throttled(request: HttpRequest) -> int | None:
    rate = settings.HUB_RATE_EMBEDS
    return rate_exceeded(request, scope="embeds", rate=rate, key=client_network(request))


def _public(response: HttpResponse) -> HttpResponse:
    """Any website may read the embeds (CORS), and must ask again each time (`HUB_EMBED_MAX_AGE`):
    a withdrawn quote is gone from the next page view on."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Expose-Headers"] = "ETag"
    response["Cache-Control"] = f"public, max-age={settings.HUB_EMBED_MAX_AGE}, must-revalidate"
    return response


def _params(request: HttpRequest) -> dict[str, str]:
    return {key: request.GET.get(key, "") for key in ("survey", "tag", "limit", "layout", "theme", "accent")}


@require_http_methods(["GET", "HEAD", "OPTIONS"])
def embed_json(request: HttpRequest) -> HttpResponse:
    """GET /embed/testimonials.json?survey=<id or slug>&tag=&limit=: the approved quotes, featured
    first, with an ETag (If-None-Match answers 304 while the set is the same)."""
    if request.method == "OPTIONS":
        preflight = _public(HttpResponse(status=204))
        preflight["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        preflight["Access-Control-Allow-Headers"] = "If-None-Match"
        return preflight
    wait = _embed_throttled(request)
    if wait is not None:
        return _public(too_many_requests(wait, "Too many requests for testimonials from this address."))
    try:
        options = embed_options_parse(_params(request))
    except EmbedInvalid as exc:
        return _public(error_response(400, "invalid", str(exc)))
    body = orjson.dumps(
        {
            "survey": options.survey.slug if options.survey else None,
            "testimonials": testimonials_shown(query=options.query),
        }
    )
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    conditional = get_conditional_response(request, etag=etag, response=response)
    return _public(conditional or response)


@xframe_options_exempt  # made to be framed by any website
@require_http_methods(["GET", "HEAD"])
def embed_frame(request: HttpRequest) -> HttpResponse:
    """The iframe embed: the same quotes rendered by the hub (no script), for sites that block scripts."""
    wait = _embed_throttled(request)
    if wait is not None:
        page = render_to_string(
            "testimonials/embed_problem.html", {"message": "Too many requests; try again soon."}
        )
        busy = HttpResponse(page, status=429)
        busy["Retry-After"] = str(wait)
        return busy
    try:
        options: EmbedOptions = embed_options_parse(_params(request))
    except EmbedInvalid as exc:
        page = render_to_string("testimonials/embed_problem.html", {"message": str(exc)})
        return HttpResponse(page, status=400)
    context = {"options": options, "testimonials": testimonials_shown(query=options.query)}
    return _public(HttpResponse(render_to_string("testimonials/embed.html", context, request=request)))
