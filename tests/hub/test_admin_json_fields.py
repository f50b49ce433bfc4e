"""Every JSON box of every admin form parses like the API: bounded depth, no U+0000, so what staff
type is a field error, never a 500 (PostgreSQL's jsonb refuses \\u0000; Python's json recurses)."""

from typing import Any

import pytest
from django import forms
from django.contrib import admin
from django.test import RequestFactory

from hub.admin import StorableJSONField
from tests.surveys.test_admin import condition_rows, survey_form

pytestmark = pytest.mark.django_db


def json_fields_of_every_admin_form(user: Any) -> list[tuple[str, str, forms.Field]]:
    request = RequestFactory().get("/admin/")
    request.user = user
    found: list[tuple[str, str, forms.Field]] = []
    for model, model_admin in admin.site._registry.items():
        form_classes = [model_admin.get_form(request)]
        form_classes += [
            inline.get_formset(request).form for inline in model_admin.get_inline_instances(request)
        ]
        for form_class in form_classes:
            for name, field in form_class.base_fields.items():
                if isinstance(field, forms.JSONField):
                    found.append((model.__name__, name, field))
    return found


def test_every_json_field_of_the_admin_parses_totally(admin_user: Any) -> None:
    fields = json_fields_of_every_admin_form(admin_user)

    assert fields  # the walk finds them: mapping rules, topic_actions ...
    assert [(model, name) for model, name, field in fields if not isinstance(field, StorableJSONField)] == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"value": "a\\u0000b"}', "U\\+0000"),
        ("[" * 500 + "]" * 500, "levels deep"),
        ('{"value": "\\ud800"}', "JSON"),
    ],
)
def test_a_json_box_with_nul_or_deep_json_is_a_field_error(text: str, message: str) -> None:
    with pytest.raises(forms.ValidationError, match=message):
        StorableJSONField().clean(text)


def test_a_trigger_condition_with_nul_is_a_form_error_not_a_500(admin_client: Any, source: Any) -> None:
    conditions = condition_rows(("traits.plan", "equals", "a\u0000b"))

    response = admin_client.post("/admin/surveys/survey/add/", survey_form(source, **conditions))

    assert response.status_code == 200
    assert "U+0000" in response.content.decode()
