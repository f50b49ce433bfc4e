"""The dispatcher's fast path over Django's SMTP backend: a batch's messages as bytes from one mold per
survey and language, and each SMTP exchange in steps, so the database works while the server answers.

Why (docs/benchmarks.md, Findings "Emails: ..."): building each message with Django's email classes
(MIME objects, then `as_bytes`) and rendering its templates cost more per message than the SMTP
exchange itself. A mold is built once per batch by that very code, from a sample message: its bytes,
with the headers that differ per message (`SLOTS`) and the invitation's token left open. Filling it
folds those headers as Django's generator would (`forbid_multi_line_headers`, then compat32's
`fold_binary`) and puts the token back, so the server receives the bytes the general path would have
sent, but for the MIME boundary and the Date, which differ per message on both paths
(tests/surveys/test_dispatch_smtp.py compares them).

A mold only takes parts sent as 7bit or 8bit (the token then goes into the bytes as it is); a survey
whose texts need quoted-printable (a line over 998 bytes) has no mold, and its messages are built by
Django one by one.
"""

import contextlib
import random
import re
import smtplib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.utils import formataddr, formatdate

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import forbid_multi_line_headers, sanitize_address

# The headers that differ per message, filled in by `MessageMold.fill` (Django sets Date itself).
SLOTS = ("To", "Date", "Message-ID", "List-Unsubscribe")

_POLICY = policy.compat32.clone(linesep="\r\n")  # what Django's as_bytes(linesep="\r\n") folds with
_CRLF = b"\r\n"
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))  # as email.generator.Generator._make_boundary


@dataclass(frozen=True)
class Envelope:
    """One message ready for the server: envelope sender and recipient (as Django's SMTP backend
    sanitises them) and the bytes."""

    sender: str
    recipient: str
    content: bytes


def _boundary() -> str:
    return "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_WIDTH}d}" + "=="  # noqa: S311


@dataclass(frozen=True)
class MessageMold:
    """One survey's email in one language as bytes, open where each message differs.

    `headers` are the top-level header lines in order, each either its bytes or the name of a slot;
    `body` is everything after them, cut where the token goes; `boundary` is the sample's MIME boundary
    (each message gets its own, as Django's generator gives it)."""

    sender: str  # the envelope sender, sanitised once
    encoding: str
    headers: tuple[bytes | str, ...]
    body: tuple[bytes, ...]
    boundary: bytes

    @classmethod
    def of(cls, sample: EmailMessage, *, token: str) -> "MessageMold | None":
        """The mold of `sample`, a message built for a stand-in recipient with `token` where the
        invitation's token goes; None if the sample's parts are not all 7bit or 8bit, or the token
        shows up where a message cannot be filled in."""
        encoding = sample.encoding or settings.DEFAULT_CHARSET
        message = sample.message()
        content = message.as_bytes(linesep="\r\n")
        boundary = message.get_boundary()
        parts = message.get_payload() if message.is_multipart() else [message]
        if boundary is None or any(
            str(part.get("Content-Transfer-Encoding", "")).lower() not in ("7bit", "8bit") for part in parts
        ):
            return None
        head, separator, body = content.partition(_CRLF * 2)
        if not separator:
            return None
        headers: list[bytes | str] = []
        for line in (head + _CRLF).split(_CRLF)[:-1]:
            if line[:1] in (b" ", b"\t") and headers:  # a folded header goes on
                last = headers[-1]
                if isinstance(last, str):
                    continue
                headers[-1] = last + line + _CRLF
                continue
            name = line.partition(b":")[0].decode("ascii")
            headers.append(name if name in SLOTS else line + _CRLF)
        token_bytes = token.encode("ascii")
        if sorted(h for h in headers if isinstance(h, str)) != sorted(SLOTS) or any(
            isinstance(h, bytes) and token_bytes in h for h in headers
        ):
            return None
        return cls(
            sender=sanitize_address(sample.from_email, encoding),
            encoding=encoding,
            headers=tuple(headers),
            body=tuple(body.split(token_bytes)),
            boundary=boundary.encode("ascii"),
        )

    def fill(
        self, *, name: str, address: str, message_id: str, list_unsubscribe: str, token: str
    ) -> Envelope:
        """One message to `name` <`address`>, with `token` in its links. Raises what Django raises for
        the same values (ValueError for an address it cannot take, BadHeaderError for a line break)."""
        to = formataddr((name, address))
        values = {
            "To": to,
            "Date": formatdate(localtime=settings.EMAIL_USE_LOCALTIME),
            "Message-ID": message_id,
            "List-Unsubscribe": list_unsubscribe,
        }
        recipient = envelope_recipient(to, address, self.encoding)
        lines = []
        for header in self.headers:
            if isinstance(header, str):
                _, value = forbid_multi_line_headers(header, values[header], self.encoding)
                lines.append(header_line(header, value))
            else:
                lines.append(header)
        lines.append(_CRLF)
        lines.append(token.encode("ascii").join(self.body))
        content = b"".join(lines)
        boundary = _boundary().encode("ascii")
        while boundary in content:  # as unlikely as in Django's generator, which checks too
            boundary = _boundary().encode("ascii")
        return Envelope(self.sender, recipient, content.replace(self.boundary, boundary))


# A header value compat32 leaves as it is: printable ASCII words, single spaces between them.
_UNFOLDED = re.compile(r"[!-~]+(?: [!-~]+)*")


def header_line(name: str, value: str) -> bytes:
    """`name: value` as Django's generator writes it (compat32's fold_binary), without its Header
    machinery (about 25 µs a header) when the line fits in 78 characters and needs no folding."""
    if len(name) + 2 + len(value) <= 78 and _UNFOLDED.fullmatch(value):
        return f"{name}: {value}\r\n".encode("ascii")
    return _POLICY.fold_binary(name, value)


# A plain address (dot-atom local part, ASCII domain): Django's sanitize_address leaves its addr-spec
# as it is, and the envelope (smtplib's quoteaddr) only takes the addr-spec.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def envelope_recipient(to: str, address: str, encoding: str) -> str:
    """The recipient for RCPT TO as Django's SMTP backend gives it (`sanitize_address(to)`), without
    running its address parser (175 µs a message) when `address` is plain and `to` one line."""
    if _PLAIN_ADDRESS.fullmatch(address) and "\n" not in to and "\r" not in to:
        return address
    return sanitize_address(to, encoding)


def envelope_of(message: EmailMessage) -> Envelope:
    """A message built by Django (no mold) as the server receives it from Django's SMTP backend."""
    encoding = message.encoding or settings.DEFAULT_CHARSET
    [recipient] = [sanitize_address(address, encoding) for address in message.recipients()]
    return Envelope(
        sanitize_address(message.from_email, encoding),
        recipient,
        message.message().as_bytes(linesep="\r\n"),
    )


def smtp_send(client: smtplib.SMTP, envelope: Envelope, *, check: Callable[[], Callable[[], bool]]) -> bool:
    """Send one message over `client` as `smtplib.SMTP.sendmail` does, with a check that runs while the
    server answers MAIL FROM and RCPT TO: `check()` starts it and returns the function that waits for
    its answer; the message goes on (DATA) only if that is True, else RSET and False. (sendmail itself
    runs MAIL, RCPT and DATA in one call, with no point before DATA to wait at; each command here is
    smtplib's own, and only sendmail's outcomes are written again.)

    The answer is always waited for, even when the server fails meanwhile, so the caller's database
    connection is free again when this returns or raises. One SMTP command is outstanding at a time,
    as SMTP wants without PIPELINING. Raises sendmail's errors (SMTPSenderRefused,
    SMTPRecipientsRefused, SMTPDataError, SMTPServerDisconnected, OSError) in the same cases, leaving
    the connection as sendmail leaves it."""
    client.ehlo_or_helo_if_needed()
    options = [f"size={len(envelope.content)}"] if client.does_esmtp and client.has_extn("size") else []
    answer = check()
    refused: smtplib.SMTPException | None = None
    try:
        code, reply = client.mail(envelope.sender, options)
        if code != 250:
            refused = smtplib.SMTPSenderRefused(code, reply, envelope.sender)
        else:
            code, reply = client.rcpt(envelope.recipient)
            if code not in (250, 251):
                refused = smtplib.SMTPRecipientsRefused({envelope.recipient: (code, reply)})
    except BaseException:
        answer()
        raise
    if not answer():  # not to be sent after all, whatever the server said
        _abandon(client, code)
        return False
    if refused is not None:
        _abandon(client, code)
        raise refused
    code, reply = client.data(envelope.content)
    if code != 250:
        _abandon(client, code)
        raise smtplib.SMTPDataError(code, reply)
    return True


def _abandon(client: smtplib.SMTP, code: int) -> None:
    """End the mail transaction as sendmail does: RSET, or close after 421 (the server is leaving)."""
    if code == 421:
        client.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        client.rset()
