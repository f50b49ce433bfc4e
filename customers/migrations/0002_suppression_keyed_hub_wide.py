"""Suppressions: keyed hashes (key_id) and hub-wide unsubscribed or bounced addresses (no source).

Rows stored before this migration are bare SHA-256 hashes: they are marked key_id "sha256" and still
match while HUB_HASH_LEGACY_SHA256 is on (the values are unknown, so they cannot be re-hashed). An
address a person unsubscribed or that bounced in one source becomes suppressed in every source, as the
unsubscribe page promised ("no more surveys, of any kind"); erasures stay with their source.
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

HUB_WIDE_REASONS = ["unsubscribed", "bounced"]


def forwards(apps: Any, schema_editor: Any) -> None:
    Suppression = apps.get_model("customers", "Suppression")
    Suppression.objects.filter(key_id="").update(key_id="sha256")
    seen: set[str] = set()
    hub_wide = Suppression.objects.filter(kind="email", reason__in=HUB_WIDE_REASONS, source__isnull=False)
    for row in hub_wide.order_by("created_at", "pk"):
        if row.value_hash in seen:
            row.delete()  # the same address suppressed in several sources: one hub-wide row is enough
            continue
        seen.add(row.value_hash)
        row.source = None
        row.save(update_fields=["source"])


def backwards(apps: Any, schema_editor: Any) -> None:
    """Hub-wide rows cannot name a source again: they are kept in the oldest source (NOT NULL)."""
    Suppression = apps.get_model("customers", "Suppression")
    Source = apps.get_model("integrations", "Source")
    first = Source.objects.order_by("pk").first()
    hub_wide = Suppression.objects.filter(source__isnull=True)
    if first is None:
        hub_wide.delete()
        return
    for kind, value_hash in Suppression.objects.filter(source=first).values_list("kind", "value_hash"):
        hub_wide.filter(kind=kind, value_hash=value_hash).delete()
    hub_wide.update(source=first)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
        ("integrations", "0005_sync_cursor"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="suppression", name="suppression_unique"),
        migrations.AddField(
            model_name="suppression",
            name="key_id",
            field=models.CharField(
                blank=True,
                help_text="Which HUB_HASH_KEYS key hashed it; 'sha256': a bare SHA-256 from before keyed hashes.",
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="deletionreceipt",
            name="user_id_hash",
            field=models.CharField(
                blank=True, help_text="Keyed hash (HMAC-SHA256) of the erased userId.", max_length=64
            ),
        ),
        migrations.AlterField(
            model_name="suppression",
            name="source",
            field=models.ForeignKey(
                blank=True,
                help_text="The source whose person it is; empty: every source (an unsubscribed or bounced address).",
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="integrations.source",
            ),
        ),
        migrations.AlterField(
            model_name="suppression",
            name="value_hash",
            field=models.CharField(
                help_text="Keyed hash (HMAC-SHA256) of the user id or lower-cased email.", max_length=64
            ),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.AddIndex(
            model_name="suppression",
            index=models.Index(fields=["value_hash"], name="suppression_hash"),
        ),
        migrations.AddConstraint(
            model_name="suppression",
            constraint=models.UniqueConstraint(
                condition=models.Q(("source__isnull", False)),
                fields=("source", "kind", "value_hash"),
                name="suppression_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="suppression",
            constraint=models.UniqueConstraint(
                condition=models.Q(("source__isnull", True)),
                fields=("kind", "value_hash"),
                name="suppression_unique_hub",
            ),
        ),
    ]
