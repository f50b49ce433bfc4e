"""A real SMTP server in the test process (aiosmtpd), and Django pointed at it."""

import asyncio
import email
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class SmtpRecorder:
    """aiosmtpd handler: keeps every message (parsed) and the client connection it came over."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.peers: list[tuple[str, int]] = []  # one per message: the client's (host, port)
        self.delay = 0.0  # seconds to wait before acknowledging each message (after recording it)
        self.refuse: set[str] = set()  # recipients answered with 550 (permanent)
        self.defer: set[str] = set()  # recipients answered with 450 (temporary)
        self.on_message: Callable[[], None] | None = (
            None  # run once, before the first message is acknowledged
        )
        self.lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user here"
        if address in self.defer:
            return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content or b"", policy=default_policy)
        with self.lock:
            self.messages.append(message)
            self.peers.append(session.peer)  # type: ignore[arg-type]
        if self.on_message is not None:
            action, self.on_message = self.on_message, None
            await asyncio.to_thread(action)  # a thread of its own: Django refuses the database in async code
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    @property
    def connections(self) -> int:
        """How many SMTP connections delivered mail (each has its own client port)."""
        return len(set(self.peers))

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpRecorder, int]]:
    """A running SMTP server on 127.0.0.1 and its port."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.fixture
def smtp(smtp_server: tuple[SmtpRecorder, int], settings: Any) -> SmtpRecorder:
    """The SMTP server, with Django's email backend sending to it."""
    recorder, port = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.HUB_BASE_URL = "https://feedback.acme.example"
    return recorder
