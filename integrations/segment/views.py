"""The Segment-compatible intake endpoints (/v1/identify, /v1/track, ..., /v1/batch, /v1/import).

Deliberately lean (see docs/benchmarks.md): the body is parsed once with orjson, validated by the
plain functions in handler.py and written in one statement; no DRF parser or serializer runs.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.views import APIView

from hub.api import error_response, request_error_response
from hub.cleaning import json_object_parse
from hub.errors import RequestError
from hub.throttle import client_network, rate_exceeded, too_many_requests
from integrations import services
from integrations.refused_calls import refused_call_count
from integrations.segment.handler import (
    Limits,
    body_decode,
    events_read,
    write_key_find,
)

logger = logging.getLogger(__name__)

SUCCESS = b'{"success":true}'


def intake_limits() -> Limits:
    """The intake's size limits, from the INTAKE_MAX_* settings (the bench parses its calls with them too)."""
    return Limits(
        max_event_bytes=settings.INTAKE_MAX_EVENT_BYTES,
        max_batch_bytes=settings.INTAKE_MAX_BATCH_BYTES,
        max_batch_events=settings.INTAKE_MAX_BATCH_EVENTS,
    )


class SegmentIntakeView(APIView):
    """POST a Segment call (or a batch of them); 200 {"success": true} once stored."""

    call_type: str | None = None  # None: a batch (/v1/batch, /v1/import)
    authentication_classes = ()  # the write key is checked below, after parsing
    permission_classes = (AllowAny,)
    throttle_classes = ()
    schema = None  # Segment's own API (README, protocols); /api/schema/ documents the management API

    def post(self, request: Request) -> HttpResponse:
        try:
            return self._handle(request)
        except RequestError as exc:
            return request_error_response(exc)
        except DatabaseError:
            # Never 200 unless committed: a client retries a 503 later with the same messageIds.
            logger.exception("intake could not reach the database")
            return error_response(503, "unavailable", "The event store is unavailable; retry later.")

    def _handle(self, request: Request) -> HttpResponse:
        received_at = timezone.now()
        limits = intake_limits()
        meta = request.META
        # Single calls are bounded by the per-event limit after decoding; the transport bound is
        # the batch limit for every route (a gzip body is smaller than what it decodes to).
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limits.max_batch_bytes:
            raise RequestError(
                400, "request_too_large", f"The body is larger than {limits.max_batch_bytes} bytes."
            )
        try:
            raw = request.body
        except RequestDataTooBig as exc:
            raise RequestError(400, "request_too_large", "The body is too large.") from exc
        data = body_decode(raw, meta.get("HTTP_CONTENT_ENCODING", ""), limits)
        if self.call_type is not None and len(data) > limits.max_event_bytes:
            raise RequestError(
                400, "request_too_large", f"A single call is at most {limits.max_event_bytes} bytes."
            )
        # Any depth here: an event nested too deep is rejected on its own, its siblings are kept.
        body = json_object_parse(data, max_depth=None, what="The body")

        write_key = write_key_find(meta.get("HTTP_AUTHORIZATION", ""), body)
        source, refused_source_id = services.source_authenticate(write_key=write_key)
        if source is None:
            # Counted for staff (the source's page), never the body; accepted calls pay nothing for it.
            refused_call_count(source_id=refused_source_id, address=client_network(request._request))
            return error_response(401, "invalid_write_key", "Unknown or disabled write key.")
        rate = settings.INTAKE_RATE_PER_SOURCE
        if rate:  # off by default: then the intake's hot path reads one setting, nothing more
            wait = rate_exceeded(request._request, scope="intake", rate=rate, key=str(source.pk))
            if wait is not None:
                return too_many_requests(wait, f"Too many requests for this source (at most {rate}).")

        events = events_read(body, call_type=self.call_type, received_at=received_at, limits=limits)
        services.inbound_events_store(source=source, received_at=received_at, events=events)
        if self.call_type is not None and events[0].rejected:
            # Stored as rejected (visible in the event log); a single caller is told why.
            return error_response(400, "invalid_event", events[0].reason)
        return HttpResponse(SUCCESS, content_type="application/json")
