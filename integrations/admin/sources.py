"""Sources: where Segment calls come in, each with its write keys (shown masked, revealed on its page)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from hub.admin import help_text_of, secrets_shown
from integrations import services
from integrations.models import Source, WriteKey
from integrations.selectors import refused_calls_of


class WriteKeyForm(forms.ModelForm[WriteKey]):
    class Meta:
        # The clear key is shown by a display method: give it the model field's help text.
        help_texts = {"reveal": help_text_of(WriteKey, "key")}


class WriteKeyInline(admin.TabularInline[WriteKey, Source]):
    model = WriteKey
    form = WriteKeyForm
    extra = 0
    fields = ["hint", "reveal", "label", "enabled", "created_at"]
    readonly_fields = ["hint", "reveal", "created_at"]

    @admin.display(description="write key")
    def reveal(self, obj: WriteKey) -> str:
        """The key in clear, only on the source's own page, with a copy button."""
        if not obj.pk:
            return "generated when saved"
        return secrets_shown([(obj.key, "write key")], size=34)

    def has_add_permission(self, request: HttpRequest, obj: Source | None = None) -> bool:
        # New keys come from the "generate a new write key" action so their value is never typed in.
        return False


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin[Source]):
    list_display = ["name", "slug", "enabled", "keys", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [WriteKeyInline]
    actions = ["generate_write_key"]
    readonly_fields = ["refused_calls"]

    class Media:
        js = ["integrations/secret.js"]
        css = {"all": ["integrations/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Source]:
        return super().get_queryset(request).prefetch_related("write_keys")

    @admin.display(description="write keys")
    def keys(self, obj: Source) -> str:
        return ", ".join(k.hint for k in obj.write_keys.all() if k.enabled) or "none"

    @admin.display(description="refused calls")
    def refused_calls(self, obj: Source) -> SafeString:
        """Calls refused with this source's disabled keys, and with unknown keys (any source)."""
        return SafeString(
            render_to_string(
                "admin/integrations/source/refused_calls.html",
                {
                    "tables": [
                        (
                            "With a disabled key of this source",
                            refused_calls_of(source=obj) if obj.pk else [],
                        ),
                        ("With an unknown key or none (any source)", refused_calls_of(source=None)),
                    ]
                },
            )
        )

    def save_model(self, request: HttpRequest, obj: Source, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            services.write_key_add(source=obj)
            messages.info(request, "A write key was generated; copy it from the source's page.")

    @admin.action(description="Generate a new write key", permissions=["change"])
    def generate_write_key(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            services.write_key_add(source=source)
        messages.success(request, f"Generated a new write key for {queryset.count()} source(s).")
