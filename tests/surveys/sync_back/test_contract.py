"""The sync-back against a real local HTTP server (pytest-httpserver) standing in for Segment."""

import itertools
import time
from datetime import timedelta

import orjson
import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request
from werkzeug import Response as WerkzeugResponse

from customers.models import Person
from integrations.delivery_loop import deliveries_claim, deliveries_deliver_due, delivery_attempt
from integrations.models import Delivery, Destination, Source
from surveys.models import SyncCursor
from surveys.services.sync_back_batches import MAX_BATCH_BYTES, MAX_BATCH_EVENTS
from tests.surveys.sync_back.conftest import (
    BASIC,
    START,
    anonymous_person,
    answer_add,
    answers_make,
    bodies,
    run,
    segment_ok,
    sent_events,
)


def test_one_batch_of_identify_calls_with_the_three_nps_traits(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch", method="POST").respond_with_handler(segment_ok)
    answers_make(source, 3, comment=lambda i: "Great support" if i == 1 else "")

    report = run(destination)

    assert (report.status, report.people, report.requests) == ("done", 3, 1)
    ((request, _response),) = httpserver.log
    assert request.method == "POST"
    assert request.path == "/v1/batch"
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Content-Type"] == "application/json"
    body = orjson.loads(request.get_data())
    assert set(body) == {"batch"}, (
        "no writeKey in the body and no sentAt (the timestamps are used as they are)"
    )
    first, second, _ = body["batch"]
    assert first["type"] == "identify"
    assert first["userId"] == "user-0"
    assert first["traits"] == {"NPS_rating": 0, "NPS_comment": "", "NPS_date": "2026-09-01T09:00:00.000Z"}
    assert first["timestamp"] == "2026-09-01T09:00:00.000Z"
    assert second["traits"] == {
        "NPS_rating": 1,
        "NPS_comment": "Great support",
        "NPS_date": "2026-09-01T09:00:01.000Z",
    }
    assert first["context"]["library"]["name"] == "feedback-hub"
    ids = [event["messageId"] for event in body["batch"]]
    assert len(set(ids)) == 3
    assert all(0 < len(i) <= 100 for i in ids)
    delivery = Delivery.objects.get(destination=destination)
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.payload == body


def test_ten_thousand_answers_go_in_batches_within_segments_limits(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    # Comments from none to 5,000 characters (the survey's maximum) so that sizes vary.
    answers_make(
        source, 10_000, comment=lambda i: ("Ça va très bien. " * (i % 300))[: 5000 if i % 997 == 0 else 400]
    )
    progress: list[tuple[int, int]] = []

    report = run(destination, progress=lambda done, total: progress.append((done, total)))

    sizes = [len(request.get_data()) for request, _ in httpserver.log]
    counts = [len(body["batch"]) for body in bodies(httpserver)]
    assert report.status == "done"
    assert sum(counts) == 10_000 == report.people
    assert len({e["messageId"] for e in sent_events(httpserver)}) == 10_000
    assert max(sizes) <= MAX_BATCH_BYTES
    assert max(counts) <= MAX_BATCH_EVENTS
    assert min(sizes[:-1]) > MAX_BATCH_BYTES - 35_000, "batches are filled, not cut early"
    assert report.requests == len(sizes) == Delivery.objects.count()
    assert report.bytes == sum(sizes)
    assert progress[0] == (0, 10_000)
    assert progress[-1] == (10_000, 10_000)


def test_the_event_count_limit_closes_a_batch_too(
    destination: Destination, source: Source, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    monkeypatch.setattr("surveys.services.sync_back_batches.MAX_BATCH_EVENTS", 4)
    answers_make(source, 10)

    run(destination)

    assert [len(body["batch"]) for body in bodies(httpserver)] == [4, 4, 2]


def test_message_ids_are_the_same_in_a_dry_run_a_run_and_a_forced_resend(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answers_make(source, 5)

    dry = run(destination, dry_run=True)
    assert httpserver.log == []
    assert not Delivery.objects.exists()
    assert dry.people == 5
    sent = run(destination)
    again = run(destination)
    resent = run(destination, full=True)

    first, second = bodies(httpserver)
    ids = [e["messageId"] for e in first["batch"]]
    assert ids == dry.message_ids == sent.message_ids
    assert again.people == 0, "nothing new: nothing sent"
    assert [e["messageId"] for e in second["batch"]] == ids
    assert resent.people == 5
    assert Delivery.objects.count() == 1, "the resend replays the same delivery (same idempotency key)"


def test_a_changed_answer_is_sent_again_with_a_new_message_id(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    (response, _) = answers_make(source, 2)
    run(destination)

    response.comment = "Added the next day"
    response.save()
    report = run(destination)

    first, second = bodies(httpserver)
    assert report.people == 1
    (event,) = second["batch"]
    assert event["userId"] == "user-0"
    assert event["traits"]["NPS_comment"] == "Added the next day"
    assert event["messageId"] not in {e["messageId"] for e in first["batch"]}


def test_the_latest_response_wins(destination: Destination, source: Source, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    person = Person.objects.create(source=source, user_id="u-1")
    older = answer_add(person, rating=2, at=START)
    answer_add(person, rating=10, at=START + timedelta(days=30), comment="Much better now")
    # The older answer gets its comment after the newer one: it must not overwrite the newer rating.
    older.comment = "late comment on the old survey"
    older.save()

    report = run(destination)

    (event,) = sent_events(httpserver)
    assert event["userId"] == "u-1"
    assert event["traits"]["NPS_rating"] == 10
    assert event["traits"]["NPS_comment"] == "Much better now"
    assert event["timestamp"] == "2026-10-01T09:00:00.000Z"
    assert (report.people, report.skipped) == (1, 1)


def test_a_person_without_user_id_is_sent_with_their_anonymous_id(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answer_add(anonymous_person(source, "anon-7"), rating=6, at=START)
    answer_add(Person.objects.create(source=source, user_id=None), rating=8, at=START)  # no id at all

    report = run(destination)

    (event,) = sent_events(httpserver)
    assert event["anonymousId"] == "anon-7"
    assert "userId" not in event
    assert (report.people, report.skipped) == (1, 1)


def test_only_the_configured_sources_people_are_synced(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    other = Source.objects.create(name="Mobile app", slug="mobile")
    answers_make(source, 1)
    answers_make(other, 1, user_prefix="mobile")

    run(destination)

    assert [e["userId"] for e in sent_events(httpserver)] == ["user-0"]


def test_nothing_is_resent_after_success(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answers_make(source, 3)
    run(destination)

    reruns = [run(destination) for _ in range(2)]
    answers_make(source, 1, start=START + timedelta(hours=1))
    last = run(destination)

    assert [r.requests for r in reruns] == [0, 0]
    assert [len(b["batch"]) for b in bodies(httpserver)] == [3, 1]
    assert last.people == 1
    cursor = SyncCursor.objects.get(destination=destination)
    assert cursor.last_response_updated_at == START + timedelta(hours=1)
    assert cursor.batch_delivery is None


def test_a_failure_mid_way_resumes_from_that_batch_without_resending_earlier_ones(
    destination: Destination, source: Source, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = itertools.count(1)

    def second_call_fails(request: Request) -> WerkzeugResponse:
        if next(calls) == 2:
            return WerkzeugResponse("busy", status=503)
        return segment_ok(request)

    httpserver.expect_request("/v1/batch").respond_with_handler(second_call_fails)
    monkeypatch.setattr("surveys.services.sync_back_batches.MAX_BATCH_EVENTS", 10)
    answers_make(source, 40)

    first = run(destination)

    assert first.status == "waiting"
    assert "503" in first.reason
    assert first.people == 10
    assert [r.status_code for _, r in httpserver.log] == [200, 503]
    waiting = Delivery.objects.get(status=Delivery.Status.PENDING)
    assert SyncCursor.objects.get(destination=destination).batch_delivery == waiting

    second = run(destination)

    assert second.status == "done"
    assert second.people == 30
    statuses = [r.status_code for _, r in httpserver.log]
    assert statuses == [200, 503, 200, 200, 200]
    sent = [b["batch"] for b in bodies(httpserver)]
    assert sent[2] == sent[1], "the failed batch is sent again as it was (same messageIds)"
    delivered_ids = [e["messageId"] for b in sent[:1] + sent[2:] for e in b]
    assert len(delivered_ids) == len(set(delivered_ids)) == 40, "each answer delivered once"
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == ("delivered", 2)
    assert run(destination).requests == 0


def test_a_batch_the_engine_delivered_meanwhile_is_not_sent_again(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request("/v1/batch").respond_with_data("busy", status=503)
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answers_make(source, 2)
    assert run(destination).status == "waiting"
    # The beat's deliver_due retries it in the meantime.
    Delivery.objects.update(next_attempt_at=START)
    assert deliveries_deliver_due() == 1

    report = run(destination)

    assert report.status == "done"
    assert [r.status_code for _, r in httpserver.log] == [503, 200]
    assert SyncCursor.objects.get(destination=destination).batch_delivery is None


def test_a_batch_another_worker_is_sending_stops_the_run_at_once_and_the_next_run_goes_on_after_it(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request("/v1/batch").respond_with_data("busy", status=503)
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    responses = answers_make(source, 2)
    assert run(destination).status == "waiting"
    # The beat's deliver_due has claimed the batch for its retry and is sending it right now.
    Delivery.objects.update(next_attempt_at=START)
    [claim] = deliveries_claim(clock=timezone.now, ids=None, max_wait=10.0, skip=set(), done=set(), limit=1)

    started = time.monotonic()
    busy = run(destination)

    assert time.monotonic() - started < 3, "the run does not wait for the other worker"
    assert busy.status == "busy"
    assert [r.status_code for _, r in httpserver.log] == [503]
    assert delivery_attempt(claim=claim, clock=timezone.now) == Delivery.Status.DELIVERED

    after = run(destination)

    assert (after.status, after.requests) == ("done", 0)
    assert [r.status_code for _, r in httpserver.log] == [503, 200], (
        "the batch was sent once more, by the beat"
    )
    cursor = SyncCursor.objects.get(destination=destination)
    assert (cursor.batch_delivery, cursor.last_response_id) == (None, responses[-1].pk)


def test_a_refused_write_key_stops_the_run_and_a_later_run_replays_the_batch(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request("/v1/batch").respond_with_json(
        {"code": "invalid_write_key", "message": "bad key"}, status=401
    )
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answers_make(source, 2)

    failed = run(destination)
    fixed = run(destination)

    assert failed.status == "failed"
    assert "401" in failed.reason
    assert fixed.status == "done"
    assert fixed.people == 2
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED
    assert [len(b["batch"]) for b in bodies(httpserver)] == [2, 2]


def test_answers_of_the_last_minute_wait_for_the_next_run(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answer = answer_add(Person.objects.create(source=source, user_id="u-now"), rating=9, at=START)
    answer.comment = "just now"
    answer.save()  # updated_at: now

    report = run(destination, settle_seconds=60)

    assert (report.responses, httpserver.log) == (0, [])


def test_a_disabled_destination_sends_nothing(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    answers_make(source, 1)
    destination.enabled = False
    destination.save()

    report = run(destination)

    assert report.status == "disabled"
    assert httpserver.log == []
