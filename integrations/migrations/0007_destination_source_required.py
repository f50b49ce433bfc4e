"""Every destination now has a source (0006): the column becomes required. A separate migration, as
PostgreSQL cannot alter a table in the transaction that just updated its rows' foreign keys."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0006_destination_source"),
    ]

    operations = [
        migrations.AlterField(
            model_name="destination",
            name="source",
            field=models.ForeignKey(
                help_text="Whose data this destination receives: only this source's people, calls and "
                "answers (a collector's contacts live in the collector's own source).",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="destinations",
                to="integrations.source",
                verbose_name="source",
            ),
        ),
    ]
