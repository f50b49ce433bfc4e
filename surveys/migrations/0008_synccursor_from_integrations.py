"""The sync-back cursor, moved here from the integrations app (integrations 0008) with the
sync-back: the model keeps its table `integrations_synccursor` and its rows; nothing is copied."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0008_synccursor_to_surveys"),
        ("surveys", "0007_header_texts_and_language_codes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SyncCursor",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "last_response_updated_at",
                            models.DateTimeField(
                                blank=True,
                                help_text="updated_at of the last response delivered; empty: nothing synced yet.",
                                null=True,
                                verbose_name="synced up to (updated at)",
                            ),
                        ),
                        (
                            "last_response_id",
                            models.BigIntegerField(
                                default=0,
                                help_text="Breaks ties between equal updated_at values.",
                                verbose_name="synced up to (response id)",
                            ),
                        ),
                        (
                            "batch_until_updated_at",
                            models.DateTimeField(
                                blank=True,
                                help_text="Where the cursor moves once it is.",
                                null=True,
                                verbose_name="batch until (updated at)",
                            ),
                        ),
                        (
                            "batch_until_response_id",
                            models.BigIntegerField(blank=True, null=True, verbose_name="batch until (response id)"),
                        ),
                        ("last_run_at", models.DateTimeField(blank=True, null=True, verbose_name="last run")),
                        (
                            "last_success_at",
                            models.DateTimeField(
                                blank=True,
                                help_text="When a run last sent everything it found.",
                                null=True,
                                verbose_name="last complete run",
                            ),
                        ),
                        ("updated_at", models.DateTimeField(auto_now=True, verbose_name="updated at")),
                        (
                            "batch_delivery",
                            models.ForeignKey(
                                blank=True,
                                help_text="The batch sent after the cursor and not yet delivered (a later run finishes it).",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="integrations.delivery",
                                verbose_name="batch in progress",
                            ),
                        ),
                        (
                            "destination",
                            models.OneToOneField(
                                help_text="The sync-back destination this cursor belongs to.",
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sync_cursor",
                                to="integrations.destination",
                                verbose_name="destination",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "sync-back cursor",
                        "db_table": "integrations_synccursor",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
