"""Errors the hub shares.

`RequestError`, a request refused as a whole: the one error every handler of outside calls raises (the
Segment intake, Intercom notifications, collector calls). It becomes HTTP `status` with {"code",
"message"} through `hub.api.request_error_response`; nothing of the request is stored.

`error_text`: any error as a short text for a row's status, a ledger or a log line, naming no one."""

import re
import smtplib

from django.core.mail import BadHeaderError

ERROR_TEXT_MAX = 500  # characters: the error, the server's code and the start of its answer


class RequestError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# Quoted parts and addresses in an error or a server's answer may be a person's name or email.
_VALUES = re.compile(r"\"[^\"]*\"|'[^']*'|[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")
# PostgreSQL's DETAIL quotes a row's values without quote marks: "Key (email)=(ann@example.com) already
# exists", "Failing row contains (3, null, Ann Smith)". The columns stay, the values go.
_ROW_VALUES = re.compile(r"(Key \(.*?\)=|Failing row contains )\(.*\)")
_HEADER = re.compile(r"for header '([\w-]+)'")


def error_text(error: BaseException | bytes | str) -> str:
    """An error for logs, status fields and ledgers (an invitation's, a report sending's): its class, an
    SMTP server's code and answer, without quoted values or addresses (a person's name or email)."""
    if isinstance(error, bytes):
        error = error.decode(errors="replace")
    if isinstance(error, str):
        return _VALUES.sub("…", _ROW_VALUES.sub(r"\1(…)", error)).strip()[:ERROR_TEXT_MAX]
    header = _HEADER.search(str(error)) if isinstance(error, BadHeaderError) else None
    if header is not None:
        return f"the {header.group(1)} header would hold a line break"
    code, answer = getattr(error, "smtp_code", None), getattr(error, "smtp_error", None)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, answer = next(iter(error.recipients.values()), (None, None))
    said = error_text(str(error) if code is None else answer or b"")
    if code is not None:
        said = f"{code} {said}".strip()
    return f"{type(error).__name__}: {said}"[:ERROR_TEXT_MAX] if said else type(error).__name__
