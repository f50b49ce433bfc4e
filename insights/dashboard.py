"""What the admin's home page shows (read-only queries): the onboarding checklist of a new hub, ticked
from real data, and once it runs the live figures, each with the admin list it comes from.

Every figure is one indexed query (EXPLAIN on PostgreSQL, tests/insights/test_dashboard.py): calls
today by `inbound_event_received`, invitations due by the partial `invitation_due`, answers by
`response_survey_time` (per survey), failing deliveries by the status index.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from insights.services.reports import report_period, score_of
from insights.stats import Score
from integrations.models import Delivery, Destination, InboundEvent, Source, WriteKey
from surveys.models import Invitation, Response, Survey

# The period of the dashboard's NPS: long enough to hold a few answers on a small hub.
NPS_DAYS = 30


@dataclass(frozen=True)
class OnboardingStep:
    """One step of setting up a hub, e.g. "Create a source", done once the database says so."""

    key: str
    title: str
    done: bool
    url_name: str  # the admin page where it is done (an admin URL name)
    hint: str


@dataclass(frozen=True)
class FirstCall:
    """A first call to copy, carrying a real write key and the hub's address."""

    write_key: str
    base_url: str
    curl: str
    python: str


@dataclass(frozen=True)
class Nps:
    """The NPS reports' hub-wide score of the last NPS_DAYS days (each person's latest answer), rounded
    to points; `margin` is the half-width of its 95 % interval, None below 2 people."""

    score: int
    people: int
    margin: int | None


@dataclass(frozen=True)
class Figures:
    calls_today: int
    invitations_due: int
    answers_this_week: int
    nps: Nps | None
    failing_deliveries: int
    failing_destinations: list[tuple[int, str, int]]  # (destination id, name, failing deliveries)


def onboarding_steps() -> list[OnboardingStep]:
    """The five steps from nothing to answers synced back to Segment, each ticked from the data."""
    return [
        OnboardingStep(
            "source",
            "Create a source",
            Source.objects.exists(),
            "admin:integrations_source_add",
            "A source is where your app's Segment calls come in; it gets a write key.",
        ),
        OnboardingStep(
            "call",
            "Send a first call",
            InboundEvent.objects.exists(),
            "admin:integrations_inboundevent_changelist",
            "Point your Segment client at the hub, or copy the command below.",
        ),
        OnboardingStep(
            "survey",
            "Create a survey",
            Survey.objects.filter(Q(triggers__enabled=True) | Q(collectors__enabled=True)).exists(),
            "admin:surveys_survey_add",
            "Its texts, when to ask, and a trigger (which calls make it consider a person) or a collector.",
        ),
        OnboardingStep(
            "automation",
            "Switch on automation",
            Survey.objects.filter(automation_enabled=True).exists(),
            "admin:surveys_survey_changelist",
            "Until then a survey sends nothing: tick 'automation enabled' in the list of surveys.",
        ),
        OnboardingStep(
            "sync_back",
            "Connect Segment sync-back",
            Destination.objects.filter(kind="segment", enabled=True).exists(),
            "admin:integrations_destination_add",
            "A destination of kind Segment sends each day's NPS answers back as identify calls.",
        ),
    ]


def first_call() -> FirstCall | None:
    """A curl and a segment-analytics-python snippet with the first enabled write key, or None
    before there is one."""
    key = (
        WriteKey.objects.filter(enabled=True, source__enabled=True)
        .order_by("source__created_at", "created_at")
        .first()
    )
    if key is None:
        return None
    base = settings.HUB_BASE_URL
    body = json.dumps(
        {"userId": "user-1", "traits": {"email": "ann@example.com", "createdAt": "2026-11-01T09:00:00Z"}}
    )
    curl = f"curl -u '{key.key}:' -H 'Content-Type: application/json' \\\n     -d '{body}' {base}/v1/identify"
    python = (
        "import segment.analytics as analytics\n\n"
        f'analytics.write_key = "{key.key}"\n'
        f'analytics.host = "{base}"\n'
        'analytics.identify("user-1", {"email": "ann@example.com", "createdAt": "2026-11-01T09:00:00Z"})\n'
        "analytics.flush()"
    )
    return FirstCall(write_key=key.key, base_url=base, curl=curl, python=python)


def nps_shown(score: Score) -> Nps | None:
    """A report's score and its 95 % margin (`insights/stats.py`) rounded to points; no margin below 2
    people, None without any."""
    if score.nps is None or score.margin is None:
        return None
    return Nps(score=round(score.nps), people=score.n, margin=round(score.margin) if score.n >= 2 else None)


def figures(*, now: datetime | None = None) -> Figures:
    """The live figures of a running hub: each a cheap, indexed query."""
    now = now or timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    surveys = list(Survey.objects.values_list("pk", flat=True))  # so answers use (survey, answered_at)
    failing = Q(status__in=[Delivery.Status.FAILED, Delivery.Status.DEAD])
    # Grouped from the failing rows alone (the status index), never by scanning every delivery.
    per_destination = list(
        Delivery.objects.filter(failing)
        .values_list("destination", "destination__name")
        .annotate(failing=Count("pk"))
        .order_by("-failing", "destination")
    )
    return Figures(
        calls_today=InboundEvent.objects.filter(received_at__gte=midnight).count(),
        invitations_due=Invitation.objects.filter(status__in=Invitation.OPEN, due_at__lte=now).count(),
        answers_this_week=Response.objects.filter(
            survey__in=surveys, answered_at__gte=now - timedelta(days=7)
        ).count(),
        nps=nps_shown(score_of(period=report_period(days=NPS_DAYS, end=now), survey_ids=surveys)),
        failing_deliveries=sum(count for _, _, count in per_destination),
        failing_destinations=per_destination,
    )


def hub_is_running() -> bool:
    """Past onboarding: a call has come in and a survey asks people (figures then lead the page)."""
    return InboundEvent.objects.exists() and Survey.objects.filter(automation_enabled=True).exists()
