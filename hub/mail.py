"""What the hub's emails share: the Message-ID derived from the row an email is about."""

from urllib.parse import urlsplit

from django.conf import settings


def message_id(*, what: str) -> str:
    """`<{what}@{hub host}>` (HUB_BASE_URL's host, else localhost), e.g.
    <invitation-12.onboarding@feedback.acme.example>: derived from the row an email is about, so a
    resend after a crash carries the same Message-ID."""
    host = urlsplit(settings.HUB_BASE_URL).hostname or "localhost"
    return f"<{what}@{host}>"
