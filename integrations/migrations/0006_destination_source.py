"""Tenancy: every destination belongs to one source.

Existing destinations get their source from what is known for sure: a Segment sync-back destination
names its source in settings["source"] (that key moves into the new column); otherwise the hub's only
source. With several sources and nothing naming one, guessing could send one company's customers to
another's tools, so the migration stops and says how to choose:
HUB_MIGRATE_DESTINATION_SOURCE=<slug> names the source for every destination that names none.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class SourceUnknown(RuntimeError):
    pass


def destinations_assign_source(apps, schema_editor):  # type: ignore[no-untyped-def]
    Source = apps.get_model("integrations", "Source")
    Destination = apps.get_model("integrations", "Destination")
    sources = {s.slug: s for s in Source.objects.all()}
    fallback_slug = getattr(settings, "HUB_MIGRATE_DESTINATION_SOURCE", "")
    if fallback_slug and fallback_slug not in sources:
        raise SourceUnknown(f"HUB_MIGRATE_DESTINATION_SOURCE names '{fallback_slug}', which is no source.")
    undecided = []
    for destination in Destination.objects.all():
        named = destination.settings.get("source") if destination.kind == "segment" else None
        if isinstance(named, str) and named in sources:
            source = sources[named]
        elif fallback_slug:
            source = sources[fallback_slug]
        elif len(sources) == 1:
            source = next(iter(sources.values()))
        else:
            undecided.append(f"#{destination.pk} '{destination.name}'")
            continue
        if destination.kind == "segment":
            destination.settings.pop("source", None)
        destination.source = source
        destination.save(update_fields=["source", "settings"])
    if undecided:
        raise SourceUnknown(
            "A destination now belongs to one source, and these destinations name none: "
            f"{', '.join(undecided)}. The hub has the sources {', '.join(sorted(sources)) or '(none)'}. "
            "Run the migration again with HUB_MIGRATE_DESTINATION_SOURCE=<slug> to give them that "
            "source (then change any of them in the admin), or create a source first."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0005_sync_cursor"),
    ]

    operations = [
        migrations.AddField(
            model_name="destination",
            name="source",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="destinations",
                to="integrations.source",
            ),
        ),
        migrations.RunPython(destinations_assign_source, migrations.RunPython.noop),
    ]
