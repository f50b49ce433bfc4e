"""The collectors' links: `/api.php?apiToken=<token>&cId=<id>&source=<kind>&action=<action>`
(SurveyLab's shape), also as `/collect/<id>/?apiToken=...`. Thin: authenticate the collector, hand the
call to surveys/services/collector_calls.py (which dispatches on `source` through the inbound registry,
integrations/registry.py), answer JSON.

HEAD answers 200 (Intercom validates a webhook URL that way). GET or POST; the handlers get the raw body
(signatures are over it), the query string, the headers and a form's fields.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from hub.api import error_response, request_error_response
from hub.errors import RequestError
from hub.throttle import client_network, rate_exceeded, too_many_requests
from integrations.inbound import WebhookRequest
from surveys.services.collector_calls import collector_call_receive
from surveys.services.collector_links import collector_authenticate

logger = logging.getLogger(__name__)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _raw_body(request: HttpRequest) -> bytes:
    limit = settings.INTAKE_MAX_BATCH_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    try:
        raw = b"" if declared > limit else request.body
    except RequestDataTooBig:
        raw = b"x" * (limit + 1)
    if declared > limit or len(raw) > limit:
        raise RequestError(400, "request_too_large", f"The body is larger than {limit} bytes.")
    return raw


def _webhook_request(request: HttpRequest) -> WebhookRequest:
    """The call as the handlers read it: the raw body (signatures are over it), a form's fields."""
    raw = _raw_body(request) if request.method == "POST" else b""
    form = (
        {key: str(value) for key, value in request.POST.items()}
        if request.method == "POST" and request.content_type in FORM_TYPES
        else None
    )
    return WebhookRequest(
        method=request.method or "", query=request.GET, headers=request.headers, body=raw, form=form
    )


@csrf_exempt
def collector_api(request: HttpRequest, collector_id: int | None = None) -> HttpResponse:
    # Before anything else, so that guessing tokens is slowed down as well.
    rate = settings.HUB_RATE_COLLECTORS
    wait = rate_exceeded(request, scope="collectors", rate=rate, key=client_network(request))
    if wait is not None:
        return too_many_requests(wait, f"Too many calls from this address (at most {rate}).")
    if request.method == "HEAD":
        return HttpResponse(status=200)
    if request.method not in ("GET", "POST"):
        return error_response(405, "method_not_allowed", "Use POST (or GET, or HEAD to check the URL).")
    received_at = timezone.now()
    params = request.GET
    token = params.get("apiToken", "")
    if not token:
        return error_response(401, "token_required", "The link needs apiToken=<the collector's API token>.")
    cid = str(collector_id) if collector_id is not None else params.get("cId", "")
    try:
        found = collector_authenticate(collector_id=cid, token=token)
        if found is None:
            return error_response(403, "invalid_token", "Unknown collector or wrong API token.")
        collector, link = found
        outcome = collector_call_receive(
            collector=collector,
            source=params.get("source", ""),
            request=_webhook_request(request),
            link=link,
            received_at=received_at,
        )
    except RequestError as exc:
        return request_error_response(exc)
    except DatabaseError:
        logger.exception("a collector call could not reach the database")
        return error_response(503, "unavailable", "The hub's database is unavailable; retry later.")
    if outcome.http_status >= 400:
        return error_response(outcome.http_status, outcome.code or outcome.status, outcome.message)
    return JsonResponse(outcome.as_json(collector), status=outcome.http_status)
