"""A collector's links and tokens, its kind's settings and secrets, and which link a call came through.

A collector has two links, with different tokens: its webhook link (`source=<kind>`, pasted into
Intercom, Zendesk, ...) and its API link for any other tool (`source=api`; add a contact, turn on,
turn off). Once the kind's signing secret is set, the webhook link takes only signed calls, and the
API link unsigned calls only if staff allow them (`Collector.unsigned_calls`).
"""

import hashlib
import hmac
from collections.abc import Mapping
from secrets import token_urlsafe
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction

from hub.cleaning import parse_id
from integrations.base import Problem
from integrations.inbound import WebhookHandler
from integrations.models import Source
from integrations.registry import GENERIC_CALL, UnknownKind, handler_get, webhook_handler_get
from integrations.services import source_create
from surveys.models import Collector, Survey, collector_topic_actions_default
from surveys.services.collector_outcome import Outcome

ADD, TURN_ON, TURN_OFF = Collector.ACTIONS
# Which of a collector's links a call came through (its token tells).
WEBHOOK_LINK, API_LINK = "webhook", "api"


def collector_handler(collector: Collector) -> WebhookHandler:
    """The handler of the collector's kind (integrations/registry.py)."""
    return webhook_handler_get(collector.kind)


def collector_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def collector_tokens_set(collector: Collector) -> None:
    """Give the collector new tokens for its webhook link and its other links (not saved): the old
    links stop working."""
    collector.token = token_urlsafe(24)
    collector.token_hash = collector_token_hash(collector.token)
    collector.generic_token = token_urlsafe(24)
    collector.generic_token_hash = collector_token_hash(collector.generic_token)


def collector_source_ensure(collector: Collector) -> Source:
    """The collector's source (collector-<id>), created with it: where its calls and contacts live.

    Its write key is disabled: the source takes webhook calls through the collector only.
    """
    if collector.source_id is not None:
        return collector.source  # type: ignore[return-value]
    slug = f"collector-{collector.pk}"
    source = Source.objects.filter(slug=slug).first()
    if source is None:
        source, _ = source_create(name=f"Collector: {collector.name}"[:200], slug=slug)
        source.write_keys.update(enabled=False)
    collector.source = source
    Collector.objects.filter(pk=collector.pk).update(source=source)
    return source


def collector_create(
    *,
    survey: Survey,
    name: str,
    kind: str = "intercom",
    settings: dict[str, Any] | None = None,
    secrets: Mapping[str, str | None] | None = None,
    channel: str = Collector.Channel.EMAIL,
    enabled: bool = True,
    delay_minutes: int = 0,
    resurvey_days: int = 0,
    topic_actions: dict[str, str] | None = None,
    unsigned_calls: bool = False,
    source: Source | None = None,
) -> Collector:
    """A collector with fresh tokens and, unless `source` is given, its own source. Without
    `topic_actions` it acts on its kind's default topics (Intercom: conversation.admin.closed)."""
    collector = Collector(
        survey=survey,
        name=name,
        kind=kind,
        settings=settings or {},
        channel=channel,
        enabled=enabled,
        delay_minutes=delay_minutes,
        resurvey_days=resurvey_days,
        unsigned_calls=unsigned_calls,
        source=source,
    )
    if topic_actions is not None:
        collector.topic_actions = topic_actions
    collector_secrets_update(collector=collector, secrets=secrets or {})
    return collector_save(collector=collector)


def _default_actions(kind: str) -> dict[str, str]:
    """What a new collector of `kind` acts on (the model's default is Intercom's)."""
    return dict(webhook_handler_get(kind).default_actions) or collector_topic_actions_default()


def collector_save(*, collector: Collector) -> Collector:
    """Save a collector; a new one gets its tokens and, unless it has one, its own source (and its
    kind's default topics when it was given the model's, which are Intercom's)."""
    if collector.pk is None:
        collector_tokens_set(collector)
        if collector.topic_actions == collector_topic_actions_default():
            collector.topic_actions = _default_actions(collector.kind)
    with transaction.atomic():
        collector.save()
        collector_source_ensure(collector)
    return collector


def collector_secrets_update(
    *, collector: Collector, secrets: Mapping[str, str | None], forget: bool = False
) -> None:
    """Change the collector's secrets (not saved): `forget` clears them first; then each value of
    `secrets` (by name) replaces the stored one, None removes it and "" keeps it (the admin's empty
    box). Secrets its kind does not take (left from another kind) are dropped: a secret is never used
    for a tool it was not entered for."""
    if forget:
        collector.secrets = "{}"
    names = set(_schema_secrets(collector.kind))
    stored = collector.secret_values()
    dropped: dict[str, str | None] = {name: None for name in stored if name not in names}
    given = {name: value for name, value in secrets.items() if value != ""}
    collector.secrets_update({**dropped, **given})


def _schema_secrets(kind: str) -> tuple[str, ...]:
    try:
        return handler_get(kind).settings_schema.secret_names
    except UnknownKind:
        return ()


def collector_problems(
    *, collector: Collector, kind: str, settings: Any, secrets: Mapping[str, str | None]
) -> list[str]:
    """Why the collector cannot be saved with `kind`, `settings` and the secrets given now (an empty
    value keeps the stored one): for the admin and the API (`problem_field` tells the field)."""
    if not isinstance(settings, dict):
        return [Problem("settings", "a JSON object, e.g. {}.")]
    try:
        schema = handler_get(kind).settings_schema
    except UnknownKind:
        return [Problem("kind", f"unknown kind '{kind}'.")]
    probe = Collector(kind=kind, secrets=collector.secrets)
    collector_secrets_update(collector=probe, secrets=secrets)
    return schema.errors(settings=settings, secret_keys=set(probe.secret_values()))


def collector_signing_secret(collector: Collector) -> str:
    """The secret that signs the calls of the collector's kind ("" when unset or unsigned)."""
    name = collector_handler(collector).signing_secret
    return collector.secret_values().get(name, "") if name else ""


def collector_tokens_rotate(*, collector: Collector) -> None:
    """New tokens for the collector's links, saved: the old links stop working."""
    collector_tokens_set(collector)
    collector.save(update_fields=["token", "token_hash", "generic_token", "generic_token_hash", "updated_at"])


def collector_links(collector: Collector) -> dict[str, str]:
    """The links, ready to copy (they hold the tokens: show them masked). The webhook link has its own
    token, so that it cannot be reused for unsigned calls once a signing secret is set."""

    def base(token: str) -> str:
        return f"{settings.HUB_BASE_URL}/api.php?" + urlencode({"apiToken": token, "cId": collector.pk})

    generic = base(collector.generic_token)
    return {
        "api_link": f"{generic}&source={GENERIC_CALL}&action={ADD}",
        "webhook_link": f"{base(collector.token)}&source={collector.kind}&action={ADD}",
        "turn_on_link": f"{generic}&source={GENERIC_CALL}&action={TURN_ON}",
        "turn_off_link": f"{generic}&source={GENERIC_CALL}&action={TURN_OFF}",
    }


def collector_authenticate(*, collector_id: str, token: str) -> tuple[Collector, str] | None:
    """The collector whose id and token these are, with the link the token belongs to (WEBHOOK_LINK or
    API_LINK), or None. Compared by hash, in constant time, against both tokens."""
    collector = None
    pk = parse_id(collector_id)
    if pk is not None:
        collector = Collector.objects.select_related("survey", "source").filter(pk=pk).first()
    given = collector_token_hash(token[:200])
    missing = "-" * 64
    webhook = hmac.compare_digest(given, collector.token_hash if collector is not None else missing)
    generic = hmac.compare_digest(given, (collector.generic_token_hash if collector else "") or missing)
    if collector is None or not (webhook or generic):
        return None
    return collector, API_LINK if generic else WEBHOOK_LINK


def collector_unsigned_refusal(*, collector: Collector, link: str) -> Outcome | None:
    """Why an unsigned generic call through `link` is refused (None: accepted). Only a collector with
    its kind's signing secret refuses: its webhook link always, its API link unless staff allow it."""
    if not collector_signing_secret(collector):
        return None
    handler = collector_handler(collector)
    if link == WEBHOOK_LINK:
        return Outcome(
            "rejected",
            f"refused: this is the collector's {handler.label} link, which takes only signed {handler.label} "
            f"calls (source={handler.kind}, {handler.signature_header}) since its {handler.label} signing "
            "secret is set; other tools use the collector's API link",
            http_status=401,
            code="signature_required",
        )
    if not collector.unsigned_calls:
        return Outcome(
            "rejected",
            f"refused: the collector's {handler.label} signing secret is set, so unsigned calls from other "
            "tools are off; staff can allow them on the collector (accept unsigned calls from other tools)",
            http_status=403,
            code="unsigned_calls_off",
        )
    return None
