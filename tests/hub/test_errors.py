"""An error as a short text for a row's status, a ledger or a log line (`hub.errors.error_text`): what
went wrong and what the server said, never a person's name or address."""

import smtplib

from django.core.mail import BadHeaderError

from hub.errors import ERROR_TEXT_MAX, error_text


def test_an_smtp_refusal_gives_the_code_and_the_answer_without_the_address() -> None:
    refused = smtplib.SMTPRecipientsRefused(
        {"ann@example.com": (550, b"5.1.1 <ann@example.com> no such user")}
    )
    assert error_text(refused) == "SMTPRecipientsRefused: 550 5.1.1 <…> no such user"
    assert error_text(smtplib.SMTPDataError(451, b"4.3.0 try later")) == "SMTPDataError: 451 4.3.0 try later"


def test_other_errors_give_their_class_and_text_without_quoted_values() -> None:
    assert error_text(ConnectionRefusedError(111, "Connection refused")) == (
        "ConnectionRefusedError: [Errno 111] Connection refused"
    )
    assert error_text(ValueError('Invalid address "Ann Smith" <ann@example.com>')) == (
        "ValueError: Invalid address … <…>"
    )
    assert error_text(KeyError()) == "KeyError"
    assert error_text(b"5.7.1 'Ann' is blocked") == "5.7.1 … is blocked"


def test_a_header_with_a_line_break_is_named_not_quoted() -> None:
    error = BadHeaderError("Header values can't contain newlines (got 'Ann\\nBcc: x' for header 'Subject')")
    assert error_text(error) == "the Subject header would hold a line break"


def test_a_long_answer_is_cut() -> None:
    assert len(error_text(smtplib.SMTPDataError(554, b"rejected " * 200))) == ERROR_TEXT_MAX
