"""People recorded before the fix could have first_seen_at (when the record was made) after
last_seen_at (the time of their latest call, e.g. an imported or late call): the earliest time known
for them is then last_seen_at, so it becomes first_seen_at too. One UPDATE; nothing to undo."""

from django.db import migrations
from django.db.models import F


def first_seen_not_after_last_seen(apps, schema_editor):  # type: ignore[no-untyped-def]
    Person = apps.get_model("customers", "Person")
    Person.objects.filter(first_seen_at__gt=F("last_seen_at")).update(first_seen_at=F("last_seen_at"))


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_suppression_keyed_hub_wide")]

    operations = [migrations.RunPython(first_seen_not_after_last_seen, migrations.RunPython.noop)]
