"""The sync-back cursor moves to the surveys app with the sync-back (surveys 0008 takes it over).
Only Django's idea of the models changes: the table `integrations_synccursor` and its rows stay
where they are, so no destination forgets how far it got."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0007_destination_source_required"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SyncCursor")],
            database_operations=[],
        ),
    ]
