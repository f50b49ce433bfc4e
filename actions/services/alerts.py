"""Alert rules: which answers to tell whom about, at once or in a digest, each answer once per rule.

alerts_evaluate(response=r, previous_rating=7)   in the answer's transaction (hub/pipeline.py
    RESPONSE_HOOKS): every enabled rule of its survey (or hub-wide) that has not fired for it and
    now matches fires: an `AlertFiring` row (unique per rule and answer) and, for an immediate rule,
    one delivery per destination of the rule that belongs to the answer's source (tenancy),
    key `alert:<answer>:<rule>`. The engine sends them after commit, with retries and replay.
alerts_digest_send(timing="daily")               the beat: each digest rule's answers not yet in a
    digest, one `alert.digest` per source, each answer listed once (the rows are marked in the
    same transaction as the digest is enqueued).
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from actions.models import AlertFiring, AlertRule, Case
from customers.models import Account, Person
from integrations.base import ALERT_DIGEST, ALERT_FIRED
from integrations.deliveries import delivery_enqueue
from integrations.models import Destination
from surveys.conditions import conditions_match
from surveys.models import Response, score_band
from surveys.services.events import response_data


def _accounts(person: Person) -> list[Account]:
    return list(Account.objects.filter(memberships__person=person).order_by("pk"))


def _account_payload(account: Account | None) -> dict[str, Any]:
    """What `account.*` condition paths read, e.g. account.traits.licenses or account.group_id."""
    if account is None:
        return {}
    return {"group_id": account.group_id, "name": account.name, "traits": dict(account.traits or {})}


def comment_matches(*, phrases: str, comment: str) -> bool:
    """Whether the comment contains one of the comma-separated phrases (any case); no phrase: True."""
    wanted = [p.strip().casefold() for p in phrases.split(",") if p.strip()]
    return not wanted or any(p in comment.casefold() for p in wanted)


def alert_rule_matches(
    *,
    rule: AlertRule,
    response: Response,
    person: Person,
    accounts: list[Account],
    previous_rating: int | None,
) -> bool:
    """Whether `rule` holds for this answer now: every condition given (survey, bands, score range,
    comment, person and account conditions, a change to detractor)."""
    if rule.survey_id is not None and rule.survey_id != response.survey_id:
        return False
    if rule.bands and response.band not in rule.bands:
        return False
    if rule.score_min is not None and response.rating < rule.score_min:
        return False
    if rule.score_max is not None and response.rating > rule.score_max:
        return False
    if not comment_matches(phrases=rule.comment_contains, comment=response.comment):
        return False
    if rule.changed_to_detractor and not (
        previous_rating is not None
        and score_band(previous_rating) != "detractor"
        and response.band == "detractor"
    ):
        return False
    if not rule.conditions:
        return True
    # Person conditions read the person's traits; account conditions hold if one of their accounts has them.
    candidates: list[Account | None] = [*accounts] or [None]
    return any(
        conditions_match(conditions=rule.conditions, payload={"account": _account_payload(a)}, person=person)
        for a in candidates
    )


def admin_url(*, response: Response) -> str:
    """The answer's case in the admin, or the answer itself when it has none."""
    case_id = Case.objects.filter(response=response).values_list("pk", flat=True).first()
    if case_id is not None:
        path = reverse("admin:actions_case_change", args=[case_id])
    else:
        path = reverse("admin:surveys_response_change", args=[response.pk])
    return f"{settings.HUB_BASE_URL}{path}"


def alert_data(
    *, rule: AlertRule, response: Response, person: Person, accounts: list[Account]
) -> dict[str, Any]:
    """An alert's data (docs/operations.md, "Alerts"): the rule, the answer with its person (and name),
    their first account, the link to the admin."""
    data = response_data(response=response)
    if data["person"] is not None:
        data["person"]["name"] = person.name
    account = accounts[0] if accounts else None
    return {
        "rule": {"id": rule.pk, "name": rule.name},
        "response": data,
        "account": {"group_id": account.group_id, "name": account.name} if account else None,
        "admin_url": admin_url(response=response),
    }


def _destinations(rule: AlertRule, source_id: int) -> list[Destination]:
    """The rule's enabled destinations that belong to the answer's source: never another source's."""
    return [d for d in rule.destinations.all() if d.enabled and d.source_id == source_id]


def alerts_evaluate(*, response: Response, previous_rating: int | None = None) -> list[AlertFiring]:
    """Fire every rule that matches this answer now and has not fired for it; returns the new firings."""
    person = response.person
    if person is None:  # erased: nobody hears of them
        return []
    rules = list(
        AlertRule.objects.filter(enabled=True)
        .filter(Q(survey=None) | Q(survey_id=response.survey_id))
        .exclude(firings__response=response)
        .prefetch_related("destinations")
    )
    if not rules:
        return []
    accounts = _accounts(person)
    fired: list[AlertFiring] = []
    for rule in rules:
        if not alert_rule_matches(
            rule=rule, response=response, person=person, accounts=accounts, previous_rating=previous_rating
        ):
            continue
        try:
            with transaction.atomic():
                firing = AlertFiring.objects.create(rule=rule, response=response)
        except IntegrityError:  # fired meanwhile by a concurrent change of the same answer
            continue
        fired.append(firing)
        if rule.timing == AlertRule.Timing.IMMEDIATE:
            data = alert_data(rule=rule, response=response, person=person, accounts=accounts)
            for destination in _destinations(rule, person.source_id):
                delivery_enqueue(
                    destination=destination,
                    event_type=ALERT_FIRED,
                    data=data,
                    idempotency_key=f"alert:{response.pk}:{rule.pk}",
                )
    return fired


def _digest_period(timing: str) -> str:
    return "weekly" if timing == AlertRule.Timing.WEEKLY else "daily"


def alerts_digest_send(*, timing: str, now: datetime | None = None) -> int:
    """Send each `timing` rule's digest of the answers it fired for since its last one: one delivery
    per destination of each answer's source. Returns how many answers were listed."""
    now = now or timezone.now()
    listed = 0
    for rule in AlertRule.objects.filter(timing=timing).prefetch_related("destinations"):
        listed += _rule_digest_send(rule=rule, now=now)
    return listed


def _rule_digest_send(*, rule: AlertRule, now: datetime) -> int:
    with transaction.atomic():
        firings = list(
            AlertFiring.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(rule=rule, digested_at=None)
            .select_related("response__survey", "response__person__source")
            .order_by("fired_at", "pk")
        )
        if not firings:
            return 0
        by_source: dict[int, list[AlertFiring]] = {}
        for firing in firings:
            person = firing.response.person
            if person is not None:  # an erased person's answer is listed nowhere
                by_source.setdefault(person.source_id, []).append(firing)
        for source_id, group in by_source.items():
            key = f"alert.digest:{rule.pk}:{source_id}:{group[-1].pk}"
            alerts = [_firing_data(rule, firing) for firing in group]
            data = {
                "rule": {"id": rule.pk, "name": rule.name},
                "period": _digest_period(rule.timing),
                "alerts": alerts,
            }
            for destination in _destinations(rule, source_id):
                delivery_enqueue(
                    destination=destination, event_type=ALERT_DIGEST, data=data, idempotency_key=key
                )
            AlertFiring.objects.filter(pk__in=[f.pk for f in group]).update(digested_at=now, digest_key=key)
        AlertFiring.objects.filter(pk__in=[f.pk for f in firings], digested_at=None).update(digested_at=now)
        return sum(len(group) for group in by_source.values())


def _firing_data(rule: AlertRule, firing: AlertFiring) -> dict[str, Any]:
    response = firing.response
    assert response.person is not None
    return alert_data(
        rule=rule, response=response, person=response.person, accounts=_accounts(response.person)
    )


def alert_keys_of(*, response_ids: Iterable[int]) -> tuple[list[str], list[str]]:
    """The delivery keys that carry these answers: (digest keys, prefixes of immediate alerts)."""
    ids = list(response_ids)
    digests = (
        AlertFiring.objects.filter(response_id__in=ids)
        .exclude(digest_key="")
        .values_list("digest_key", flat=True)
    )
    return sorted(set(digests)), [f"alert:{pk}:" for pk in ids]
