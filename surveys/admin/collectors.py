"""Collectors: a survey's webhook links (Intercom and any other tool) and their write-only secrets."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from hub.admin import JSON_FORMFIELDS, ExtraBoxesForm, help_text_of, secrets_shown
from surveys.models import Collector
from surveys.services.collectors import (
    API_LINK,
    INTERCOM_SECRETS,
    collector_links,
    collector_save,
    collector_secrets_update,
    collector_tokens_rotate,
    collector_unsigned_refusal,
)


def write_only(field: str, label: str) -> forms.CharField:
    """A box for a new value of a secret: never shows the stored one, and left empty keeps it."""
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"size": 50, "autocomplete": "off"}),
        help_text=help_text_of(Collector, field) + " Empty: unchanged.",
    )


class CollectorForm(ExtraBoxesForm[Collector]):
    """Secrets are write-only: typed into empty boxes, kept when left empty."""

    new_intercom_client_secret = write_only("intercom_client_secret", "Intercom client secret")
    new_intercom_access_token = write_only("intercom_access_token", "Intercom access token")
    remove_intercom_secrets = forms.BooleanField(
        label="remove the Intercom secrets",
        required=False,
        help_text="Forget the client secret and the token.",
    )

    class Meta:
        model = Collector
        fields = [
            "survey",
            "name",
            "channel",
            "enabled",
            "delay_minutes",
            "resurvey_days",
            "topic_actions",
            "unsigned_calls",
        ]
        widgets = {"topic_actions": forms.Textarea({"rows": 3, "cols": 70})}

    def clean_topic_actions(self) -> Any:
        value = self.cleaned_data.get("topic_actions")
        return {} if value is None else value

    def extra_apply(self, instance: Collector) -> None:
        collector_secrets_update(
            collector=instance,
            secrets={name: self.cleaned_data.get(f"new_{name}") or "" for name in INTERCOM_SECRETS},
            forget=bool(self.cleaned_data.get("remove_intercom_secrets")),
        )


@admin.register(Collector)
class CollectorAdmin(admin.ModelAdmin[Collector]):
    form = CollectorForm
    formfield_overrides = JSON_FORMFIELDS
    list_display = ["name", "survey", "channel", "enabled", "delay_minutes", "intercom", "source"]
    list_editable = ["enabled"]
    list_filter = ["enabled", "channel", "survey"]
    list_select_related = ["survey", "source"]
    search_fields = ["name", "survey__name"]
    readonly_fields = ["api_links", "intercom", "source", "created_at", "updated_at"]
    actions = ["rotate_token"]
    fieldsets = [
        (None, {"fields": ["survey", "name", "channel", "enabled"]}),
        (
            "API link",
            {
                "fields": ["api_links"],
                "description": "Paste a link into the other tool. The Intercom webhook link goes into an "
                "Intercom app (subscribed to conversation.admin.closed); once the Intercom client secret "
                "is set below it takes only notifications Intercom signed. The other links, with their "
                "own token, are for any other tool: POST JSON or a form with email, name, language, "
                "user_id (other fields are kept as traits). On a collector with an Intercom client "
                "secret they are refused unless 'accept unsigned calls from other tools' is on.",
            },
        ),
        ("When to invite", {"fields": ["delay_minutes", "resurvey_days"]}),
        (
            "Intercom",
            {
                "fields": [
                    "topic_actions",
                    "intercom",
                    "new_intercom_client_secret",
                    "new_intercom_access_token",
                    "remove_intercom_secrets",
                    "unsigned_calls",
                ]
            },
        ),
        ("Record", {"fields": ["source", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    class Media:
        js = ["integrations/secret.js"]
        css = {"all": ["integrations/admin.css"]}

    @admin.display(description="API links")
    def api_links(self, obj: Collector) -> str:
        """Each link masked, with Show and Copy buttons (integrations/static/integrations/secret.js)."""
        if not obj.pk:
            return "generated when saved"
        refused = collector_unsigned_refusal(collector=obj, link=API_LINK) is not None
        other = " (refused: unsigned calls are off)" if refused else ""
        labels = {
            "intercom_link": "Intercom webhook" + (" (signed only)" if obj.intercom_client_secret else ""),
            "api_link": f"add a contact (other tools){other}",
            "turn_on_link": f"turn on{other}",
            "turn_off_link": f"turn off{other}",
        }
        links = collector_links(obj)
        return secrets_shown(((links[key], label) for key, label in labels.items()), size=80, captioned=True)

    @admin.display(description="Intercom secrets")
    def intercom(self, obj: Collector) -> str:
        have = [
            label
            for name, label in zip(
                INTERCOM_SECRETS, ("client secret (signatures checked)", "access token"), strict=True
            )
            if getattr(obj, name)
        ]
        return ", ".join(have) or "none (calls are checked by the link's token only)"

    def save_model(self, request: HttpRequest, obj: Collector, form: Any, change: bool) -> None:
        collector_save(collector=obj)

    @admin.action(description="Generate new tokens (the old links stop working)", permissions=["change"])
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Collector]) -> None:
        for collector in queryset:
            collector_tokens_rotate(collector=collector)
        messages.success(request, f"New token for {queryset.count()} collector(s): copy the new links.")
