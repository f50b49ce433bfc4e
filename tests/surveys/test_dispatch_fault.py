"""A dispatcher process killed mid-batch, then restarted: every invitation arrives, none twice but one.

What "exactly once" means, precisely: a message is marked sent right after the SMTP server accepted
it. A dispatcher killed in between (the server has the message, the row still says `sending`) leaves
that one invitation to be claimed again once its claim is older than SURVEY_CLAIM_TIMEOUT_SECONDS,
and it is sent a second time, with the same Message-ID (`<invitation-{pk}.{slug}@{host}>`), so
receiving servers and people can tell it is the same email. No other invitation is ever sent twice,
and none is lost.

Here the SMTP server records each message as soon as its data has arrived and acknowledges it 0.3 s
later, so killing the process when the fifth message is recorded kills it in exactly that window.
"""

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from surveys.models import Invitation
from tests.conftest import ROOT, subprocess_env
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import due_invitations_make

pytestmark = pytest.mark.django_db(transaction=True)


def dispatch_process(port: int, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    """`manage.py dispatch_due` in a process of its own, on the test database and the test SMTP server."""
    env = subprocess_env(
        EMAIL_URL=f"smtp://127.0.0.1:{port}",
        HUB_BASE_URL="https://feedback.acme.example",
        SURVEY_DISPATCH_BATCH="100",
        LOG_LEVEL="WARNING",
        **extra,
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "dispatch_due"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_a_dispatcher_killed_mid_batch_and_restarted_sends_every_invitation_exactly_once(
    smtp_server: tuple[SmtpRecorder, int], tmp_path: Path
) -> None:
    smtp, port = smtp_server
    invitations = due_invitations_make(20)
    expected = {f"<invitation-{i.pk}.onboarding@feedback.acme.example>": i.pk for i in invitations}
    log = tmp_path / "dispatch.log"
    smtp.delay = 0.3

    first = dispatch_process(port, log)
    deadline = time.monotonic() + 60
    while len(smtp.message_ids()) < 5:
        assert first.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no mail within 60 s:\n{log.read_text()}"
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    received_before = smtp.message_ids()
    in_flight = received_before[-1]

    # The dead dispatcher had claimed the whole batch: what it had not finished is `sending`.
    statuses = dict(Invitation.objects.values_list("pk", "status"))
    in_flight_marked_sent = statuses[expected[in_flight]] == Invitation.Status.SENT
    assert sum(s == "sent" for s in statuses.values()) == len(received_before) - (not in_flight_marked_sent)
    assert {s for s in statuses.values() if s != "sent"} == {"sending"}

    # Restarted after the claims went stale (claim timeout 1 s): it takes them over.
    time.sleep(1.1)
    smtp.delay = 0.02
    second = dispatch_process(port, log, SURVEY_CLAIM_TIMEOUT_SECONDS="1")
    assert second.wait(120) == 0, log.read_text()

    counts = Counter(smtp.message_ids())
    assert set(counts) == set(expected)  # nothing lost, nothing unknown
    duplicates = {message_id for message_id, n in counts.items() if n > 1}
    # The one message in flight at the kill came twice exactly when its row was not yet marked sent.
    assert duplicates == (set() if in_flight_marked_sent else {in_flight})
    assert counts[in_flight] <= 2
    assert set(Invitation.objects.values_list("status", flat=True)) == {"sent"}
    sent_again = len(expected) - len(received_before) + (not in_flight_marked_sent)
    assert f"Sent {sent_again} invitation" in log.read_text()
