"""Pieces every app's admin uses: read-only consoles, a log's paginator, action permissions, JSON boxes
that parse totally, help texts, pretty JSON, status badges, short excerpts, masked secrets."""

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar, cast

import orjson
from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.db.models import QuerySet
from django.forms.fields import JSONString
from django.http import Http404, HttpRequest
from django.template.loader import render_to_string
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.timezone import localtime

from hub.cleaning import JSONInvalid, parse_json, unstorable_problem


class StorableJSONField(forms.JSONField):
    """The admin's JSON boxes, parsed as the API parses bodies (hub/cleaning.py): bounded depth, and
    text PostgreSQL cannot store (U+0000) is a field error instead of a 500."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or isinstance(value, list | dict | int | float | JSONString):
            return value
        if value in self.empty_values:
            return None
        try:
            parsed = parse_json(value)
        except JSONInvalid as exc:
            raise forms.ValidationError(str(exc), code="invalid", params={"value": value}) from exc
        problem = unstorable_problem(parsed)
        if problem is not None:
            raise forms.ValidationError(problem, code="invalid")
        return JSONString(parsed) if isinstance(parsed, str) else parsed


# For every admin with JSON boxes: `formfield_overrides = JSON_FORMFIELDS` (a test walks them all).
JSON_FORMFIELDS: dict[type[models.Field[Any, Any]], dict[str, Any]] = {
    models.JSONField: {"form_class": StorableJSONField}
}


ModelT = TypeVar("ModelT", bound=models.Model)


class ExtraBoxesForm(forms.ModelForm[ModelT]):
    """A model form with boxes that are no model field (a write-only secret, a list typed one item a
    line): `extra_apply` writes them onto the instance before it is saved."""

    def extra_apply(self, instance: ModelT) -> None:
        raise NotImplementedError

    def save(self, commit: bool = True) -> ModelT:
        instance = super().save(commit=False)
        self.extra_apply(instance)
        if commit:
            instance.save()
        return instance


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """A log or record staff read but never add or edit by hand (actions still run)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LogPaginator(Paginator):
    """Counts at most COUNT_LIMIT rows: an unfiltered log (events, deliveries) would otherwise be
    COUNT(*)-ed in full (templates/admin/integrations/inboundevent/pagination.html says "10000+")."""

    COUNT_LIMIT = 10_000

    @cached_property
    def count(self) -> int:
        # COUNT(*) over a LIMITed subquery: bounded work however large the table is.
        queryset = cast("QuerySet[Any]", self.object_list)
        return queryset.order_by()[: self.COUNT_LIMIT].count()


class LogAdmin(ReadOnlyAdmin):
    """A log (the event log, deliveries): newest first, counted only up to LogPaginator.COUNT_LIMIT,
    each row's status as a badge and its payload shown pretty."""

    ordering = ["-id"]
    paginator = LogPaginator
    show_full_result_count = False  # the log is large: no COUNT(*) of the whole table

    class Media:
        css = {"all": ["integrations/admin.css"]}

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: Any) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="payload")
    def pretty_payload(self, obj: Any) -> str:
        return pretty_json(obj.payload)


def help_text_of(model: type[models.Model], field: str) -> str:
    """A model field's help text, for a form field that shows or edits it another way."""
    return str(getattr(model._meta.get_field(field), "help_text", ""))


def page_object(model_admin: admin.ModelAdmin[ModelT], request: HttpRequest, object_id: str) -> ModelT:
    """The object one of its own pages is about (a preview, "Try it"): 404 when there is none, 403 for
    staff who may not view it."""
    obj = model_admin.get_object(request, unquote(object_id))
    if obj is None:
        raise Http404(f"No {model_admin.opts.verbose_name} with id {object_id}.")
    if not model_admin.has_view_or_change_permission(request, obj):
        raise PermissionDenied
    return obj


def page_context(
    model_admin: admin.ModelAdmin[ModelT], request: HttpRequest, obj: ModelT, title: str, **extra: Any
) -> dict[str, Any]:
    """What templates/admin/object_page.html needs, with `extra` for the page itself."""
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "opts": model_admin.opts,
        "original": obj,
        "has_view_permission": True,
        **extra,
    }


def action_needing(function: Any, *permissions: str) -> Any:
    """Another app's admin action, offered only to staff with `permissions` ("change", "delete", ...):
    Django's `allowed_permissions`, which that app did not declare."""

    @functools.wraps(function)
    def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return function(modeladmin, request, queryset)

    action.allowed_permissions = permissions  # type: ignore[attr-defined]
    return action


def pretty_json(value: Any) -> str:
    """JSON indented and sorted in a <pre>; a string is shown as it is; nothing shows "none"."""
    if value in (None, "", {}):
        return format_html('<span class="hub-muted">{}</span>', "none")
    if isinstance(value, str):
        text = value
    else:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    return format_html('<pre class="hub-payload">{}</pre>', text)


def json_table(value: Any, *, key_label: str = "name", value_label: str = "value") -> str:
    """A JSON object as a two-column table (traits, tag ratings, counts): text and numbers as they
    are, nested values as pretty JSON in their cell; anything but an object as `pretty_json`."""
    if not isinstance(value, dict) or not value:
        return pretty_json(value)
    rows = [
        (key, item if isinstance(item, str | int | float | bool) or item is None else pretty_json(item))
        for key, item in sorted(value.items(), key=lambda pair: str(pair[0]).lower())
    ]
    return render_to_string(
        "admin/hub/json_table.html", {"rows": rows, "key_label": key_label, "value_label": value_label}
    )


def status_badge(status: str, label: str = "") -> str:
    return format_html('<span class="hub-status hub-status-{}">{}</span>', status, label or status)


def excerpt(text: str, limit: int) -> str:
    """The start of a long text, the whole of it on hover."""
    if len(text) <= limit:
        return text
    return format_html('<span title="{}">{}…</span>', text, text[:limit])


def to_the_second(moment: datetime | None) -> str:
    """Local time to the second: a log's rows are told apart by time."""
    return date_format(localtime(moment), "Y-m-d H:i:s") if moment else ""


def secret_mask(value: str) -> str:
    """A secret as lists show it: its last four characters at most, and only for long secrets."""
    return f"••••{value[-4:]}" if len(value) >= 16 else "••••"


def secrets_shown(secrets: Iterable[tuple[str, str]], *, size: int, captioned: bool = False) -> str:
    """(value, label) pairs as masked boxes with Show and Copy buttons (needs integrations/secret.js)."""
    context = {
        "secrets": [{"value": value, "label": label} for value, label in secrets],
        "size": size,
        "captioned": captioned,
    }
    return render_to_string("admin/hub/secrets.html", context)
