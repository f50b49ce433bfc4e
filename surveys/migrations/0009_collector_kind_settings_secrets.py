# Collectors get a kind (the source kind of their webhook link, integrations/registry.py) and that
# kind's settings and secrets (encrypted JSON); the Intercom columns move into the secrets.

import json

import hub.crypto
import surveys.models
from django.db import migrations, models

# Old column -> the Intercom kind's secret (integrations/intercom/handler.py settings_schema).
MOVED = {"intercom_client_secret": "client_secret", "intercom_access_token": "access_token"}


def intercom_columns_to_secrets(apps, schema_editor):
    """Every collector so far is an Intercom one: its client secret and access token become secrets."""
    Collector = apps.get_model("surveys", "Collector")
    for collector in Collector.objects.only("pk", "secrets", *MOVED):
        values = {new: getattr(collector, old) for old, new in MOVED.items() if getattr(collector, old)}
        collector.kind = "intercom"
        collector.secrets = json.dumps(values, sort_keys=True)
        collector.save(update_fields=["kind", "secrets"])


def secrets_to_intercom_columns(apps, schema_editor):
    Collector = apps.get_model("surveys", "Collector")
    for collector in Collector.objects.only("pk", "secrets", "kind"):
        try:
            values = json.loads(collector.secrets or "{}")
        except ValueError:
            values = {}
        for old, new in MOVED.items():
            setattr(collector, old, str(values.get(new, "")) if collector.kind == "intercom" else "")
        collector.save(update_fields=list(MOVED))


class Migration(migrations.Migration):

    dependencies = [
        ('surveys', '0008_synccursor_from_integrations'),
    ]

    operations = [
        migrations.AddField(
            model_name='collector',
            name='kind',
            field=models.CharField(default='intercom', help_text='Which tool calls its webhook link (integrations/registry.py): intercom, zendesk.', max_length=50, verbose_name='kind'),
        ),
        migrations.AddField(
            model_name='collector',
            name='secrets',
            field=hub.crypto.EncryptedTextField(blank=True, default='{}', help_text='API keys and signing secrets (a JSON object), encrypted at rest; write-only.', verbose_name='secrets'),
        ),
        migrations.AddField(
            model_name='collector',
            name='settings',
            field=models.JSONField(blank=True, default=dict, help_text="The kind's options as JSON (most kinds have none).", verbose_name='settings'),
        ),
        migrations.RunPython(intercom_columns_to_secrets, secrets_to_intercom_columns),
        migrations.RemoveField(
            model_name='collector',
            name='intercom_access_token',
        ),
        migrations.RemoveField(
            model_name='collector',
            name='intercom_client_secret',
        ),
        migrations.AlterField(
            model_name='collector',
            name='generic_token',
            field=hub.crypto.EncryptedTextField(default='', editable=False, help_text='Part of the links for other tools (add a contact, turn on, turn off); encrypted at rest, compared by hash. Never part of the webhook link.', verbose_name='API link token'),
        ),
        migrations.AlterField(
            model_name='collector',
            name='token',
            field=hub.crypto.EncryptedTextField(editable=False, help_text="Part of the webhook link (Intercom's, Zendesk's); encrypted at rest, compared by hash. With the kind's signing secret set, this link takes only signed calls.", verbose_name='webhook link token'),
        ),
        migrations.AlterField(
            model_name='collector',
            name='token_hash',
            field=models.CharField(editable=False, help_text="SHA-256 of the webhook link's token.", max_length=64),
        ),
        migrations.AlterField(
            model_name='collector',
            name='topic_actions',
            field=models.JSONField(blank=True, default=surveys.models.collector_topic_actions_default, help_text='Which topic of the webhook does what, e.g. {"conversation.admin.closed": "addContactToCollector"} (Intercom), {"ticket.solved": "addContactToCollector"} (Zendesk). Actions: addContactToCollector, turnOnCollector, turnOffCollector. Other topics are recorded and ignored.', verbose_name='topics'),
        ),
        migrations.AlterField(
            model_name='collector',
            name='unsigned_calls',
            field=models.BooleanField(default=False, help_text="Matters only once the kind's signing secret is set: then calls through the API link (other tools, which nobody signs) are refused unless this is on. The webhook link never takes them once the secret is set.", verbose_name='accept unsigned calls from other tools'),
        ),
    ]
