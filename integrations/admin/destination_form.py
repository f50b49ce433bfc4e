"""A destination's form, built per connector kind from its `SettingsSchema` (integrations/base.py): one
labelled box per setting with its help text (a check box for a true/false setting, "Name: value" lines
for a mapping such as webhook headers), one password box per secret ("leave empty to keep"). The kind
is chosen first (integrations/admin/destinations.py) and fixed in the form."""

from typing import Any, ClassVar

from django import forms

from hub.admin import ExtraBoxesForm, help_text_of
from integrations.base import SettingsSchema, event_type_choices, problem_field, problem_key
from integrations.models import Destination
from integrations.registry import CONNECTORS, connector_get

SETTING_PREFIX = "setting_"
SECRET_PREFIX = "secret_"  # noqa: S105 - a form field name prefix, not a secret
# The model fields every kind's form has, in the order of its fieldsets.
MODEL_FIELDS = [
    "name",
    "source",
    "enabled",
    "mapping_set",
    "call_types",
    "rate_limit_per_second",
    "timeout_seconds",
    "max_age_seconds",
]


def schema_of(kind: str) -> SettingsSchema:
    """A kind's schema; an empty one before the kind is chosen (the add page then asks for it)."""
    return connector_get(kind).settings_schema if kind in CONNECTORS else SettingsSchema()


class MappingLinesField(forms.CharField):
    """A mapping of names to text typed one "Name: value" a line, e.g. webhook headers "X-Team: ops"."""

    widget = forms.Textarea({"rows": 3, "cols": 60})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, dict):
            return "\n".join(f"{name}: {text}" for name, text in value.items())
        return value

    def to_python(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        mapping: dict[str, str] = {}
        for number, line in enumerate((super().to_python(value) or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, text = line.partition(":")
            if not colon or not name.strip():
                raise forms.ValidationError(f'Line {number}: write "Name: value".')
            mapping[name.strip()] = text.strip()
        return mapping


def setting_field(schema: SettingsSchema, key: str) -> forms.Field:
    """The box for one setting, typed by its default (true/false, a mapping, text) or as a URL."""
    default = schema.defaults.get(key)
    label = key.replace("_", " ")
    help_text = schema.help.get(key, "")
    if isinstance(default, bool):
        return forms.BooleanField(label=label, required=False, help_text=help_text)
    if isinstance(default, dict):
        return MappingLinesField(
            label=label, required=False, help_text=f'{help_text} One "Name: value" a line.'
        )
    required = key in schema.required and not default
    widget = forms.URLInput({"size": 70}) if key in schema.urls else forms.TextInput({"size": 50})
    return forms.CharField(label=label, required=required, help_text=help_text, widget=widget, strip=True)


def secret_field(schema: SettingsSchema, key: str, *, stored: bool) -> forms.Field:
    keep = " Leave empty to keep the stored one." if stored else ""
    needed = "" if key in schema.secrets else " Optional."
    return forms.CharField(
        label=key.replace("_", " "),
        required=False,
        strip=True,
        widget=forms.PasswordInput({"autocomplete": "new-password", "size": 50}, render_value=False),
        help_text=f"{schema.help.get(key, '')}{needed}{keep}",
    )


class DestinationForm(ExtraBoxesForm[Destination]):
    """The fields every kind shares; `destination_form_for` adds the kind's settings and secrets."""

    kind_name: ClassVar[str] = ""
    schema: ClassVar[SettingsSchema] = SettingsSchema()  # the kind's, set by destination_form_for
    call_types = forms.MultipleChoiceField(
        label="receives",
        choices=event_type_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=help_text_of(Destination, "call_types"),
    )
    event_names_text = forms.CharField(
        label="only these event names",
        required=False,
        widget=forms.Textarea({"rows": 2, "cols": 40}),
        help_text="One per line, e.g. Order Completed. Empty: every event name.",
    )

    class Meta:
        model = Destination
        fields = MODEL_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            self.instance.kind = self.kind_name  # the kind chosen first, shown at the top
        self.initial["event_names_text"] = "\n".join(self.instance.event_names or [])
        stored = self.instance.settings if self.instance.kind == self.kind_name else {}
        shown = self.schema.settings_with_defaults(stored or {})
        for key in self.schema.setting_keys():
            self.initial[SETTING_PREFIX + key] = shown.get(key)

    def settings_entered(self) -> dict[str, Any]:
        """The settings as typed, leaving out what equals the kind's default (so defaults can move)."""
        settings: dict[str, Any] = {}
        for key in self.schema.setting_keys():
            value = self.cleaned_data.get(SETTING_PREFIX + key)
            if value in (None, "", {}) and not isinstance(value, bool):
                continue
            if key in self.schema.defaults and value == self.schema.defaults[key]:
                continue
            settings[key] = value
        return settings

    def secrets_entered(self) -> dict[str, str | None]:
        """Secrets typed now; an empty box keeps the stored one."""
        entered = {key: self.cleaned_data.get(SECRET_PREFIX + key) for key in self.schema.secret_names}
        return {key: value for key, value in entered.items() if value}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        problems = self.instance.configuration_problems(
            kind=self.kind_name, settings=self.settings_entered(), secrets=self.secrets_entered()
        )
        for problem in problems:
            self.add_error(self._box_of(problem), problem)
        return data

    def _box_of(self, problem: str) -> str | None:
        """The box a problem is shown beside: its own setting's or secret's, else the first of its part."""
        part, key = problem_field(problem), problem_key(problem)
        prefix = {"settings": SETTING_PREFIX, "secrets": SECRET_PREFIX}.get(part or "")
        if prefix is None:
            return None
        if key and prefix + key in self.fields:
            return prefix + key
        return next((name for name in self.fields if name.startswith(prefix)), None)

    def extra_apply(self, instance: Destination) -> None:
        instance.kind = self.kind_name
        instance.settings = self.settings_entered()
        text = self.cleaned_data.get("event_names_text") or ""
        instance.event_names = [line.strip() for line in text.splitlines() if line.strip()]
        secrets = self.secrets_entered()
        if secrets:
            instance.secrets_update(secrets)


def destination_form_for(kind: str, *, stored_secrets: set[str]) -> type[DestinationForm]:
    """The form of one kind: DestinationForm plus a box per setting and per secret of its schema."""
    schema = schema_of(kind)
    boxes: dict[str, Any] = {
        SETTING_PREFIX + key: setting_field(schema, key) for key in schema.setting_keys()
    }
    boxes |= {
        SECRET_PREFIX + key: secret_field(schema, key, stored=key in stored_secrets)
        for key in schema.secret_names
    }
    attrs = {"kind_name": kind, "schema": schema, **boxes}
    return type(f"{kind.title()}DestinationForm", (DestinationForm,), attrs)


def form_fieldsets(kind: str, *, stored: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """The destination page's sections for one kind; `stored`: the settings saved so far."""
    schema = schema_of(kind)
    label = connector_get(kind).label if kind in CONNECTORS else "Its"
    keys = schema.setting_keys()
    settings: dict[str, Any] = {"fields": [SETTING_PREFIX + key for key in keys] + ["mapping_set"]}
    unknown = sorted(key for key in stored if key not in keys)
    if unknown:  # saved before the hub refused them; the form has no box for them
        settings["description"] = (
            f"Stored settings this kind does not take, dropped when saved: {', '.join(unknown)}."
        )
    fieldsets: list[tuple[str | None, dict[str, Any]]] = [
        (None, {"fields": ["kind_shown", "name", "source", "enabled"]}),
        (f"{label} settings", settings),
    ]
    if schema.secret_names:
        fieldsets.append(
            (
                "Secrets",
                {
                    "fields": ["secrets_masked"] + [SECRET_PREFIX + key for key in schema.secret_names],
                    "description": "Stored encrypted, never shown again; an empty box keeps what is stored.",
                },
            )
        )
    fieldsets += [
        ("What it receives", {"fields": ["call_types", "event_names_text"]}),
        (
            "Delivery",
            {"fields": ["rate_limit_per_second", "timeout_seconds", "max_age_seconds", "next_slot_at"]},
        ),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]
    return fieldsets
