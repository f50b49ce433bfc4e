"""An error as a short text for a row's status, a ledger or a log line (`hub.errors.error_text`): what
went wrong and what the server said, never a person's name or address."""

import smtplib

import pytest
from django.core.mail import BadHeaderError
from django.db import IntegrityError, connection, transaction

from hub.errors import ERROR_TEXT_MAX, error_text
from tests.conftest import service_missing


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


@pytest.mark.django_db
def test_a_database_error_gives_the_columns_but_not_the_rows_values() -> None:
    """PostgreSQL's DETAIL quotes the row without quote marks: "Failing row contains (3, null, Ann
    Smith)", "Key (email)=(ann@example.com) already exists"."""
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (its errors' DETAIL lines)")
    texts = []
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE people (id int PRIMARY KEY, name text NOT NULL, email text UNIQUE)")
        cursor.execute("INSERT INTO people VALUES (1, 'Ann Smith', 'ann.smith@example.com')")
        for sql in (
            "INSERT INTO people VALUES (2, NULL, 'Ann Smith')",
            "INSERT INTO people VALUES (2, 'Bob Jones', 'ann.smith@example.com')",
            "INSERT INTO people (id, name, email) SELECT 3, name || ' Jr', NULL FROM people WHERE id = 1 "
            "UNION ALL SELECT 3, 'Bob Jones', NULL",
        ):
            with pytest.raises(IntegrityError) as raised, transaction.atomic():
                cursor.execute(sql)
            texts.append(error_text(raised.value))

    assert texts[0].startswith("IntegrityError: null value in column … of relation … violates not-null")
    assert "Failing row contains (…)" in texts[0]
    assert "Key (email)=(…) already exists" in texts[1]
    assert "Key (id)=(…) already exists" in texts[2]
    for text in texts:
        assert "Ann" not in text
        assert "Smith" not in text
        assert "Bob" not in text
