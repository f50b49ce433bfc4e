"""A Segment destination pointed at a real local HTTP server, and NPS answers made in bulk."""

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from django.db import connection
from django.db.models import F
from pytest_httpserver import HTTPServer
from werkzeug import Request
from werkzeug import Response as WerkzeugResponse

from customers.models import Identity, Person
from integrations.models import Destination, Source
from surveys.models import Invitation, Response, Survey
from surveys.services.sync_back import SyncReport, sync_back_run
from tests.surveys.factories import answer_make

WRITE_KEY = "wk_peer_0123456789abcdef"
BASIC = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


def segment_destination(api_host: str, source: Source, **fields: Any) -> Destination:
    destination = Destination(
        source=source,
        kind="segment",
        name=fields.pop("name", "Segment (production)"),
        settings={"api_host": api_host},
        timeout_seconds=fields.pop("timeout_seconds", 5.0),
        **fields,
    )
    destination.secrets_update({"write_key": WRITE_KEY})
    destination.save()
    return destination


@pytest.fixture
def destination(source: Source, httpserver: HTTPServer) -> Destination:
    return segment_destination(httpserver.url_for("/"), source)


def answers_make(
    source: Source,
    count: int,
    *,
    start: datetime = START,
    comment: Callable[[int], str] = lambda i: "",
    user_prefix: str = "user",
) -> list[Response]:
    """`count` people of `source`, each with one answered invitation; response i answered (rated, and
    last changed) at start + i seconds, rated i % 11."""
    survey, _ = Survey.objects.get_or_create(slug="nps", defaults={"name": "NPS"})
    offset = Person.objects.count()
    people = Person.objects.bulk_create(
        [Person(source=source, user_id=f"{user_prefix}-{offset + i}") for i in range(count)]
    )
    invitations = Invitation.objects.bulk_create(
        [
            Invitation(survey=survey, person=p, due_at=start, status=Invitation.Status.RESPONDED)
            for p in people
        ]
    )
    responses = Response.objects.bulk_create(
        [
            Response(
                invitation=invitation,
                survey=survey,
                person=invitation.person,
                rating=i % 11,
                comment=comment(i),
                answered_at=start + timedelta(seconds=i),
                rated_at=start + timedelta(seconds=i),
            )
            for i, invitation in enumerate(invitations)
        ]
    )
    Response.objects.filter(pk__in=[r.pk for r in responses]).update(updated_at=F("answered_at"))
    if connection.vendor == "postgresql":
        # A live database has planner statistics (autovacuum analyses a table soon after a bulk load);
        # without them PostgreSQL reads the sync-back's cursor query person by person, quadratic in
        # the answers (10,000 answers: ~7 s per page instead of ~10 ms). bench/sync_back.py does the same.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_person, surveys_response")
    return list(Response.objects.filter(pk__in=[r.pk for r in responses]).order_by("pk"))


def answer_add(person: Person, *, rating: int, at: datetime, comment: str = "") -> Response:
    survey, _ = Survey.objects.get_or_create(slug="nps", defaults={"name": "NPS"})
    response = answer_make(survey=survey, person=person, rating=rating, at=at, comment=comment)
    Response.objects.filter(pk=response.pk).update(updated_at=at)
    response.refresh_from_db()
    return response


def anonymous_person(source: Source, anonymous_id: str) -> Person:
    person = Person.objects.create(source=source, user_id=None)
    Identity.objects.create(source=source, person=person, kind=Identity.Kind.ANONYMOUS, value=anonymous_id)
    return person


def run(destination: Destination, **options: Any) -> SyncReport:
    """A run that also takes answers of the last minute (the settle delay is tested on its own)."""
    return sync_back_run(destination=destination, settle_seconds=options.pop("settle_seconds", 0), **options)


def segment_ok(request: Request) -> WerkzeugResponse:
    return WerkzeugResponse(b'{"success": true}', status=200, content_type="application/json")


def bodies(httpserver: HTTPServer) -> list[dict[str, Any]]:
    """The JSON body of every request the server received, in order."""
    return [orjson.loads(request.get_data()) for request, _ in httpserver.log]


def sent_events(httpserver: HTTPServer, status: int = 200) -> list[dict[str, Any]]:
    return [
        event
        for (request, response) in httpserver.log
        if response.status_code == status
        for event in orjson.loads(request.get_data())["batch"]
    ]
