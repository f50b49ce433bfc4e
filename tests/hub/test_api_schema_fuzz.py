"""No request the management API's own schema describes, or nearly describes, makes it answer 5xx, and
every answer keeps to the schema (status codes and bodies), so a client generated from it works.

schemathesis generates the requests from the schema /api/schema/ serves and calls the WSGI app in process
as a superuser (every permission), inside the test's database transaction. Bounded: a few
examples per operation, derandomized, so the whole pass stays well under a minute.
"""

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.wsgi import application
from tests.surveys.factories import survey_make

CONFIG = schemathesis.Config.from_dict(
    {"seed": 9, "generation": {"mode": "all"}, "phases": {"coverage": {"enabled": False}}}
)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def _one_connection_per_test() -> Iterator[None]:
    """As Django's test client does: a request must not close the test's connection (and transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth(db: None, django_user_model: Any, source: Any) -> dict[str, str]:
    admin = django_user_model.objects.create(username="fuzz", is_staff=True, is_superuser=True)
    survey_make()  # something to list, filter and change
    return {"Authorization": f"Token {Token.objects.create(user=admin).key}"}


def _api_schema() -> Any:
    """The schema /api/schema/ serves, generated in process: collection has no database to log in with."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(document)), config=CONFIG)
    loaded.app = application
    return loaded


schema = _api_schema()


@schema.parametrize()
@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.usefixtures("_one_connection_per_test")
def test_the_api_never_answers_5xx_and_keeps_to_its_schema(case: Any, auth: dict[str, str]) -> None:
    case.call_and_validate(headers=auth, checks=CHECKS)
