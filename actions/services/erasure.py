"""GDPR erasure of acting on answers (hub/pipeline.py PERSON_ERASE_HOOKS, before the surveys step,
which unlinks the answers this step finds by person)."""

from typing import Any

from django.db.models import Q

from actions.models import AutoReplySend, Case, CaseEntry
from actions.services.alerts import alert_keys_of
from customers.models import Person
from integrations.deliveries import deliveries_erase
from integrations.models import ERASED_REASON
from surveys.models import Response


def person_erase_actions(*, person: Person, **kwargs: Any) -> dict[str, int]:
    """Alerts sent or queued about their answers (immediate ones and the digests that listed them) lose
    their payloads; their cases' log texts (notes, replies: they quote the customer) are replaced and
    the cases unlinked (status and dates stay counted); auto-replies not sent yet never are."""
    response_ids = list(Response.objects.filter(person=person).values_list("pk", flat=True))
    digest_keys, prefixes = alert_keys_of(response_ids=response_ids)
    alerts = deliveries_erase(idempotency_keys=digest_keys, key_prefixes=prefixes)
    cases = Case.objects.filter(Q(person=person) | Q(response_id__in=response_ids))
    entries = CaseEntry.objects.filter(case__in=cases).exclude(text="").update(text=ERASED_REASON)
    unlinked = cases.update(person=None)
    replies = AutoReplySend.objects.filter(
        response_id__in=response_ids,
        status__in=[AutoReplySend.Status.SCHEDULED, AutoReplySend.Status.SENDING],
    ).update(status=AutoReplySend.Status.SKIPPED, reason="person erased")
    return {
        "alert_deliveries_erased": alerts,
        "case_entries_erased": entries,
        "cases_unlinked": unlinked,
        "auto_replies_cancelled": replies,
    }
