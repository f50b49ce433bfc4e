"""End to end: this hub's sync-back pointed at a second hub's /v1/batch (a live server; another
source in the same database plays the other hub). The NPS traits land on the peer's people."""

from datetime import timedelta
from typing import Any

import pytest

from customers.models import Person
from integrations.models import InboundEvent, Source
from integrations.services import source_create
from tests.surveys.sync_back.conftest import (
    START,
    anonymous_person,
    answer_add,
    run,
    segment_destination,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_nps_traits_land_on_the_peer_hubs_people(live_server: Any, source: Source) -> None:
    peer, peer_key = source_create(name="The other hub", slug="peer-hub")
    destination = segment_destination(live_server.url, source)
    destination.secrets_update({"write_key": peer_key})
    destination.save()
    ann = Person.objects.create(source=source, user_id="u-ann")
    answer_add(ann, rating=4, at=START)
    answer_add(ann, rating=9, at=START + timedelta(days=20), comment="Fast and friendly")
    answer_add(anonymous_person(source, "anon-7"), rating=0, at=START + timedelta(days=1))

    report = run(destination)

    assert (report.status, report.people, report.requests) == ("done", 2, 1)
    assert set(InboundEvent.objects.filter(source=peer).values_list("status", flat=True)) == {"processed"}
    on_peer = Person.objects.get(source=peer, user_id="u-ann")
    assert on_peer.traits["NPS_rating"] == 9
    assert on_peer.traits["NPS_comment"] == "Fast and friendly"
    assert on_peer.traits["NPS_date"] == "2026-09-21T09:00:00.000Z"
    anonymous = Person.objects.get(source=peer, identities__value="anon-7")
    assert anonymous.user_id is None
    assert (anonymous.traits["NPS_rating"], anonymous.traits["NPS_comment"]) == (0, "")

    # A forced resend carries the same messageIds: the peer stores nothing twice.
    assert run(destination, full=True).people == 2
    assert InboundEvent.objects.filter(source=peer).count() == 2
