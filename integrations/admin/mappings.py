"""Attribute mappings: the rules that turn a Segment call into a destination's fields, and "Try it"."""

import json
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.text import capfirst

from hub.admin import JSON_FORMFIELDS, help_text_of, page_context, page_object
from integrations.mappings import (
    mapping_rules_save,
    mapping_sample_call,
    mapping_try,
    target_clash,
    target_path,
)
from integrations.models import MappingRule, MappingSet
from integrations.segment.calls import CALL_TYPES


class MappingSetForm(forms.ModelForm[MappingSet]):
    call_types = forms.MultipleChoiceField(
        label=capfirst(MappingSet._meta.get_field("call_types").verbose_name),
        help_text=help_text_of(MappingSet, "call_types"),
        choices=[(t, t) for t in CALL_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = MappingSet
        fields = ["name", "slug", "target", "call_types", "description"]


class _Typed(str):
    """Text as the person typed it (a re-shown form): shown back unchanged."""


class JSONOrTextField(forms.CharField):
    """A default as staff think of it: General is the text "General"; 0, true, {"a": 1} are JSON."""

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def bound_data(self, data: Any, initial: Any) -> Any:
        return _Typed(data or "")

    def prepare_value(self, value: Any) -> Any:
        if value is None or isinstance(value, _Typed):
            return value or ""
        if isinstance(value, str):
            try:
                json.loads(value)
            except ValueError:
                return value  # plain text reads back as itself
        return json.dumps(value, ensure_ascii=False)


class MappingRuleForm(forms.ModelForm[MappingRule]):
    default = JSONOrTextField(
        label="default",
        required=False,
        help_text=help_text_of(MappingRule, "default"),
        widget=forms.TextInput({"size": 10}),
    )

    class Meta:
        model = MappingRule
        fields = ["position", "source_paths", "target", "transform", "options", "default", "required"]
        widgets = {
            "source_paths": forms.TextInput({"size": 30}),
            "target": forms.TextInput({"size": 16}),
            "options": forms.Textarea({"rows": 1, "cols": 16}),
        }


class MappingRuleFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        """No two rules may write one field, nor one a field and another inside it (a / a.b)."""
        super().clean()
        taken: dict[tuple[str, ...], str] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("target"):
                continue
            target: str = data["target"].strip()
            clash = target_clash(target_path(target), taken)
            if clash is None:
                taken[target_path(target)] = target
            else:
                form.add_error("target", f"Another rule already writes {clash}.")


class MappingRuleInline(admin.TabularInline[MappingRule, MappingSet]):
    model = MappingRule
    form = MappingRuleForm
    formfield_overrides = JSON_FORMFIELDS
    formset = MappingRuleFormSet
    extra = 1
    ordering = ["position", "id"]


@admin.register(MappingSet)
class MappingSetAdmin(admin.ModelAdmin[MappingSet]):
    form = MappingSetForm
    list_display = ["name", "target", "rule_count", "call_type_list", "is_preset", "updated_at"]
    list_filter = ["is_preset", "target"]
    search_fields = ["name", "target", "rules__target", "rules__source_paths"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MappingRuleInline]
    change_form_template = "admin/integrations/mappingset/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[MappingSet]:
        return super().get_queryset(request).annotate(rule_count=Count("rules"))

    @admin.display(description="rules", ordering="rule_count")
    def rule_count(self, obj: MappingSet) -> int:
        return cast(int, getattr(obj, "rule_count", 0))

    @admin.display(description="call types")
    def call_type_list(self, obj: MappingSet) -> str:
        return ", ".join(obj.call_types) or "any"

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not MappingRule:
            return super().save_formset(request, form, formset, change)
        typed = [f.cleaned_data.get("position") or 0 for f in formset.forms if f.cleaned_data]
        rules = formset.save(commit=False)
        mapping_rules_save(rules=rules, deleted=formset.deleted_objects, after=max(typed, default=0))

    def get_urls(self) -> list[URLPattern]:
        try_it = path(
            "<path:object_id>/try/",
            self.admin_site.admin_view(self.try_view),
            name="integrations_mappingset_try",
        )
        return [try_it, *super().get_urls()]

    def try_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Paste a Segment call, see what the set makes of it: the output, and each rule's problem."""
        mapping_set = page_object(self, request, object_id)
        text = mapping_sample_call(call_types=mapping_set.call_types)
        tried = None
        if request.method == "POST":
            text = request.POST.get("call", "")
            tried = mapping_try(mapping_set=mapping_set, text=text)
        result = tried.result if tried else None
        context = page_context(
            self,
            request,
            mapping_set,
            f"Try {mapping_set}",
            call_text=text,
            error=tried.error if tried else "",
            output=json.dumps(result.output, indent=2, ensure_ascii=False) if result else "",
            problems=result.problems if result else None,
        )
        return TemplateResponse(request, "admin/integrations/mappingset/try.html", context)
