"""Shared pieces of the JSON APIs: every error body is {"code": ..., "message": ...}."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def error_response(status: int, code: str, message: str) -> JsonResponse:
    """The one error shape of the hub's APIs (also what Segment clients expect, gotcha 2)."""
    return JsonResponse({"code": code, "message": message}, status=status)


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
