"""Collectors: a survey's webhook links (Intercom, Zendesk, any other tool), its kind's settings and
write-only secrets (one box per secret the kind's settings schema names)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from hub.admin import JSON_FORMFIELDS, ExtraBoxesForm, help_text_of, secrets_shown
from integrations.base import problem_field
from integrations.registry import collector_kind_choices, collector_kinds, handler_get
from surveys.models import Collector
from surveys.services.collector_links import (
    API_LINK,
    collector_handler,
    collector_links,
    collector_problems,
    collector_save,
    collector_secrets_update,
    collector_signing_secret,
    collector_tokens_rotate,
    collector_unsigned_refusal,
)

LINKS_HELP = (
    "Paste the webhook link into the tool of the collector's kind (an Intercom app subscribed to "
    "conversation.admin.closed; a Zendesk webhook notified by a trigger on Status is Solved); once its "
    "signing secret is set below it takes only signed calls. The other links, with their own token, are "
    "for any other tool: POST JSON or a form with email, name, language, user_id (other fields are kept "
    "as traits). On a collector with a signing secret they are refused unless 'accept unsigned calls "
    "from other tools' is on."
)


def secret_box(kind: str, name: str) -> str:
    """The form field of one secret of one kind, e.g. new_intercom_client_secret."""
    return f"new_{kind}_{name}"


def kind_secret_boxes(kind: str) -> dict[str, forms.CharField]:
    """A box for a new value of each of the kind's secrets: never shows the stored one; empty keeps it."""
    handler = handler_get(kind)
    schema = handler.settings_schema
    return {
        secret_box(kind, name): forms.CharField(
            label=f"{handler.label} {name.replace('_', ' ')}",
            required=False,
            strip=True,
            widget=forms.PasswordInput(render_value=False, attrs={"size": 50, "autocomplete": "off"}),
            help_text=f"{schema.help.get(name, '')} Encrypted at rest; write-only. Empty: unchanged.".strip(),
        )
        for name in schema.secret_names
    }


class CollectorFormBase(ExtraBoxesForm[Collector]):
    """Secrets are write-only: typed into empty boxes, kept when left empty (CollectorForm adds a box
    for each secret of each kind)."""

    kind = forms.ChoiceField(
        label="kind",
        choices=collector_kind_choices,
        initial="intercom",
        help_text=help_text_of(Collector, "kind"),
    )
    remove_secrets = forms.BooleanField(
        label="remove the secrets", required=False, help_text="Forget every secret of the collector."
    )

    class Meta:
        model = Collector
        fields = [
            "survey",
            "name",
            "kind",
            "settings",
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

    def _secrets_given(self, kind: str) -> dict[str, str]:
        names = handler_get(kind).settings_schema.secret_names
        return {name: self.cleaned_data.get(secret_box(kind, name)) or "" for name in names}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, settings = data.get("kind"), data.get("settings")
        if kind and settings is not None:
            instance = Collector(secrets="{}") if data.get("remove_secrets") else self.instance
            problems = collector_problems(
                collector=instance, kind=kind, settings=settings, secrets=self._secrets_given(kind)
            )
            for problem in problems:
                field = problem_field(problem)
                self.add_error(field if field in ("kind", "settings") else None, problem)
        return data

    def extra_apply(self, instance: Collector) -> None:
        collector_secrets_update(
            collector=instance,
            secrets=self._secrets_given(instance.kind),
            forget=bool(self.cleaned_data.get("remove_secrets")),
        )


# Declared on the class (the admin checks its fieldsets against them): every kind's boxes.
CollectorForm = type(
    "CollectorForm",
    (CollectorFormBase,),
    {name: box for kind in collector_kinds() for name, box in kind_secret_boxes(kind).items()},
)


@admin.register(Collector)
class CollectorAdmin(admin.ModelAdmin[Collector]):
    form = CollectorForm
    formfield_overrides = JSON_FORMFIELDS
    list_display = ["name", "survey", "kind", "channel", "enabled", "delay_minutes", "secrets_set", "source"]
    list_editable = ["enabled"]
    list_filter = ["enabled", "kind", "channel", "survey"]
    list_select_related = ["survey", "source"]
    search_fields = ["name", "survey__name"]
    readonly_fields = ["api_links", "secrets_set", "source", "created_at", "updated_at"]
    actions = ["rotate_token"]

    class Media:
        js = ["integrations/secret.js"]
        css = {"all": ["integrations/admin.css"]}

    def get_fieldsets(self, request: HttpRequest, obj: Collector | None = None) -> Any:
        """The kind's own secret boxes on a collector; every kind's on a new one (the chosen kind's
        are kept)."""
        kinds = [obj.kind] if obj is not None and obj.kind in collector_kinds() else collector_kinds()
        webhook = [
            (
                f"Webhook: {handler_get(kind).label}",
                {
                    "fields": list(kind_secret_boxes(kind)),
                    "description": "" if obj is not None else "Only the chosen kind's secrets are kept.",
                },
            )
            for kind in kinds
        ]
        return [
            (None, {"fields": ["survey", "name", "kind", "channel", "enabled"]}),
            (
                "API links",
                {
                    "fields": ["api_links"],
                    "description": LINKS_HELP,
                },
            ),
            ("When to invite", {"fields": ["delay_minutes", "resurvey_days"]}),
            (
                "Webhook",
                {"fields": ["topic_actions", "settings", "secrets_set", "remove_secrets", "unsigned_calls"]},
            ),
            *webhook,
            ("Record", {"fields": ["source", "created_at", "updated_at"], "classes": ["collapse"]}),
        ]

    @admin.display(description="API links")
    def api_links(self, obj: Collector) -> str:
        """Each link masked, with Show and Copy buttons (integrations/static/integrations/secret.js)."""
        if not obj.pk:
            return "generated when saved"
        refused = collector_unsigned_refusal(collector=obj, link=API_LINK) is not None
        other = " (refused: unsigned calls are off)" if refused else ""
        signed = " (signed only)" if collector_signing_secret(obj) else ""
        labels = {
            "webhook_link": f"{obj.kind_label()} webhook{signed}",
            "api_link": f"add a contact (other tools){other}",
            "turn_on_link": f"turn on{other}",
            "turn_off_link": f"turn off{other}",
        }
        links = collector_links(obj)
        return secrets_shown(((links[key], label) for key, label in labels.items()), size=80, captioned=True)

    @admin.display(description="secrets")
    def secrets_set(self, obj: Collector) -> str:
        signing = collector_handler(obj).signing_secret
        have = [
            name.replace("_", " ") + (" (signatures checked)" if name == signing else "")
            for name in sorted(obj.secret_values())
        ]
        return ", ".join(have) or "none (calls are checked by the link's token only)"

    def save_model(self, request: HttpRequest, obj: Collector, form: Any, change: bool) -> None:
        collector_save(collector=obj)

    @admin.action(description="Generate new tokens (the old links stop working)", permissions=["change"])
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Collector]) -> None:
        for collector in queryset:
            collector_tokens_rotate(collector=collector)
        messages.success(request, f"New token for {queryset.count()} collector(s): copy the new links.")
