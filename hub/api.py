"""Shared pieces of the JSON APIs: every error body is {"code": ..., "message": ...}, documented as such
in the schema; query parameters read by the hub's total parsers. Request bodies: hub/parsers.py."""

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from hub.errors import RequestError
from hub.timeparse import parse_datetime


def error_response(status: int, code: str, message: str) -> JsonResponse:
    """The one error shape of the hub's APIs (also what Segment clients expect, gotcha 2)."""
    return JsonResponse({"code": code, "message": message}, status=status)


def request_error_response(error: RequestError) -> JsonResponse:
    """A request refused as a whole (by the intake, a webhook or a collector call), in that shape."""
    return error_response(error.status, error.code, error.message)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with its body reshaped to {"code", "message"} (details kept under "errors")."""
    # Django's own 404 and permission errors get DRF's codes ("not_found", "permission_denied").
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    codes = getattr(exc, "get_codes", lambda: "error")()
    if isinstance(data, dict) and set(data) == {"detail"}:
        code = codes if isinstance(codes, str) else "error"
        response.data = {"code": code, "message": str(data["detail"])}
    else:
        response.data = {"code": "invalid", "message": "The request is not valid.", "errors": data}
    return response


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer (documented only: the views build it with error_response)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here: a class attribute named "errors" would hide Serializer.errors.
        return {
            "code": serializers.CharField(help_text="For programs, e.g. invalid, parse_error, not_found."),
            "message": serializers.CharField(help_text="For people."),
            "errors": serializers.JSONField(
                required=False,
                help_text='With code "invalid": the problems per field, e.g. {"slug": ["..."]}.',
            ),
        }


# The answers any operation may give besides its own; each body is an ErrorSerializer.
ERROR_RESPONSES = {
    "400": "Invalid query parameters or body (code invalid or parse_error; errors names the fields).",
    "401": "No or unknown credentials.",
    "403": "The user may not do this.",
    "404": "No such object (or page).",
    "406": "The Accept header asks for a format the API does not give.",
    "429": "Too many requests: retry after the Retry-After header's seconds.",
}
BODY_ERROR_RESPONSES = {"415": "The body's Content-Type is not JSON, form or multipart data."}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, with every operation's error answers documented (a generated client
    knows them, and schemathesis checks the API keeps to them)."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors = dict(ERROR_RESPONSES)
        if self.method in ("POST", "PUT", "PATCH"):
            errors |= BODY_ERROR_RESPONSES
        for code, description in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code, None, direction)
                responses[code]["description"] = description
        return responses


@csrf_exempt  # whatever the method: there is nothing here to protect
def api_not_found(request: Any) -> JsonResponse:
    """Any /api/ address no route takes: the API's 404, in its error shape (not Django's HTML page)."""
    return error_response(404, "not_found", "No such address in the API.")


def intake_not_found(request: Any) -> JsonResponse:
    """Any /v1/ address no route takes: Segment clients read JSON, never Django's HTML page."""
    message = "No such address in the intake: /v1/identify, /v1/track, ..., /v1/batch, /v1/import."
    return error_response(404, "not_found", message)


@extend_schema_field(
    {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$", "example": "09:00"}
)
class WallTimeField(serializers.TimeField):
    """A local wall-clock time, e.g. 09:00, read in someone's time zone. Documented as the HH:MM[:SS]
    it is: the schema's format "time" would promise an RFC 3339 time with an offset."""


# --- query parameters ---------------------------------------------------------------------------------


class MomentField(forms.Field):
    """A moment as hub.timeparse reads it (ISO 8601); invalid when the hub could not hold it."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        moment = parse_datetime(value, allow_numbers=False)
        if moment is None:
            raise forms.ValidationError(
                "Not a moment the hub can use: ISO 8601, e.g. 2026-03-01T09:00:00Z, offsets under 16 hours."
            )
        return moment


@extend_schema_field(OpenApiTypes.DATETIME)
class MomentFilter(django_filters.Filter):
    """A date-time query parameter (e.g. ?since=) read by the hub's one timestamp parser."""

    field_class = MomentField
