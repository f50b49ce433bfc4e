"""Shipped attribute mappings, from the vendors' documented field names (vendors.md, protocols.md §6).

Created by name with get_or_create: a preset staff edited (or deleted rules of) is never touched
again; a preset staff deleted comes back on the next run of this migration. The data is frozen
here on purpose: later code changes must not rewrite what an old migration created.
"""

from typing import Any

from django.db import migrations
from django.utils.text import slugify

# (source paths, target field, transform, options, default, required)
Rule = tuple[str, str, str, dict[str, Any], Any, bool]


def _rule(
    source: str,
    target: str,
    transform: str = "",
    *,
    options: dict[str, Any] | None = None,
    default: Any = None,
    required: bool = False,
) -> Rule:
    return (source, target, transform, options or {}, default, required)


def _address(prefix: str) -> list[Rule]:
    parts = [("city", "city"), ("country", "country"), ("postalCode", "postal_code"), ("state", "state")]
    parts.append(("street", "street"))
    return [_rule(f"traits.address.{part}", f"{prefix}_{name}") for part, name in parts]


PRESETS: list[dict[str, Any]] = [
    {
        "name": "CustomerSuccessBox accounts",
        "target": "customersuccessbox.account",
        "call_types": ["group"],
        "description": "Group calls as CSB accounts. Add custom attributes as rules named by their API name.",
        "rules": [
            _rule("traits.account_id|groupId", "account_id", required=True),
            _rule("traits.name", "name"),
            _rule("traits.createdAt", "created_on", "iso_datetime"),
            _rule("traits.email", "email"),
            _rule("traits.phone", "phone"),
            _rule("traits.employees", "employees"),
            _rule("traits.industry", "industry"),
            *_address("billing"),
            _rule("traits.stage", "stage"),
            _rule("traits.licenses", "licenses"),
        ],
    },
    {
        "name": "CustomerSuccessBox users",
        "target": "customersuccessbox.user",
        "call_types": ["identify"],
        "description": "Identify calls as CSB users. Add custom attributes as rules named by their API name.",
        "rules": [
            _rule("traits.account_id", "account_id", required=True),
            _rule("traits.user_id|userId", "user_id", required=True),
            _rule("traits.email", "email"),
            _rule("traits.firstName", "first_name"),
            _rule("traits.lastName", "last_name"),
            _rule("traits.createdAt", "created_on", "iso_datetime"),
            _rule("traits.updatedAt", "updated_on", "iso_datetime"),
            _rule("traits.phone", "phone"),
            _rule("traits.title", "title"),
            _rule("traits.role", "role"),
            _rule("traits.birthday", "birthdate", "iso_date"),
            *_address("mailing"),
        ],
    },
    {
        "name": "CustomerSuccessBox feature usage",
        "target": "customersuccessbox.feature",
        "call_types": ["track"],
        "description": "Track calls as CSB feature usage: the event name is the feature. "
        "Set product_id's default to your product's name.",
        "rules": [
            _rule("properties.account_id|context.traits.account_id", "account_id", required=True),
            _rule("properties.user_id|userId", "user_id", required=True),
            _rule("event", "feature_id", required=True),
            _rule("properties.module_id", "module_id", default="General"),
            _rule("properties.product_id", "product_id"),
            _rule("properties.total", "total"),
            _rule("timestamp", "timestamp", "iso_datetime"),
        ],
    },
    {
        "name": "Wootric end users",
        "target": "wootric.end_user",
        "call_types": ["identify"],
        "description": "Identify calls as Wootric's settings: created_at is rounded to the nearest second.",
        "rules": [
            _rule("traits.email|context.traits.email", "email"),
            _rule("traits.createdAt", "created_at", "unix_seconds_rounded"),
            _rule("traits.language|context.locale", "language"),
            _rule("userId|anonymousId", "segment_user_id"),
        ],
    },
    {
        "name": "Hello Customer respondents",
        "target": "hellocustomer.respondent",
        "call_types": ["identify"],
        "description": "Calls as Hello Customer respondents. Fill language_UniqueID's lookup table with your "
        "survey languages' GUIDs; add keyValues.<key> rules for the metadata you want on answers.",
        "rules": [
            _rule("traits.firstName|properties.firstname", "firstName"),
            _rule("traits.lastName|properties.lastname", "lastName"),
            _rule("traits.email|properties.email|context.traits.email", "email", required=True),
            _rule("userId|anonymousId", "custom_UniqueID"),
            _rule("traits.language|context.locale", "language_UniqueID", "lookup", options={"table": {}}),
            _rule("traits.team", "keyValues.team"),
        ],
    },
]


def presets_create(apps: Any, schema_editor: Any) -> None:
    MappingSet = apps.get_model("integrations", "MappingSet")
    MappingRule = apps.get_model("integrations", "MappingRule")
    for preset in PRESETS:
        slug = slugify(preset["name"])
        if MappingSet.objects.filter(slug=slug).exclude(name=preset["name"]).exists():
            slug = f"{slug}-preset"  # staff took the slug for a set of their own
        mapping_set, created = MappingSet.objects.get_or_create(
            name=preset["name"],
            defaults={
                "slug": slug,
                "target": preset["target"],
                "call_types": preset["call_types"],
                "description": preset["description"],
                "is_preset": True,
            },
        )
        if not created:
            continue
        MappingRule.objects.bulk_create(
            MappingRule(
                mapping_set=mapping_set,
                position=(index + 1) * 10,
                source_paths=source,
                target=target,
                transform=transform,
                options=options,
                default=default,
                required=required,
            )
            for index, (source, target, transform, options, default, required) in enumerate(preset["rules"])
        )


class Migration(migrations.Migration):
    dependencies = [("integrations", "0002_mappingset_mappingrule")]

    # Reversing keeps the presets: migrating back and forth must not drop staff's edits.
    operations = [migrations.RunPython(presets_create, migrations.RunPython.noop)]
