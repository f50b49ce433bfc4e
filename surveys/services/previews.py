"""What staff see of a survey before it goes out: its email rendered for a sample person, and that
email sent to themselves as a test. Nothing is saved."""

from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from customers.models import Person
from surveys.models import Invitation, Survey

PREVIEW_EMAIL = "preview@example.com"
PREVIEW_FIRST_NAME = "Alex"


def survey_preview_invitation(*, survey: Survey, language: str) -> Invitation:
    """An unsaved invitation to a sample person ("Alex", preview@example.com) speaking `language`."""
    person = Person(
        email=PREVIEW_EMAIL, first_name=PREVIEW_FIRST_NAME, name=PREVIEW_FIRST_NAME, language=language
    )
    return Invitation(survey=survey, person=person, language=language, due_at=timezone.now())


def survey_preview_email(*, survey: Survey, language: str) -> tuple[EmailMultiAlternatives | None, str]:
    """The invitation email for a sample person, rendered by the dispatcher, or why there is none."""
    try:
        # Imported here: a preview says so, rather than failing, while the renderer cannot be loaded.
        from surveys.services.dispatch import invitation_email
    except ImportError:
        return None, "The email renderer (surveys.services.dispatch.invitation_email) is not installed yet."
    return invitation_email(invitation=survey_preview_invitation(survey=survey, language=language)), ""


def email_html(email: EmailMultiAlternatives) -> str:
    """The email's HTML part ("" when it has none)."""
    for content, mimetype in email.alternatives:
        if mimetype == "text/html":
            return str(content)
    return ""


def survey_test_send(*, survey: Survey, language: str, to: str) -> str:
    """Email the preview to `to` alone, its subject marked [Test]. Returns why it was not sent, or ""."""
    email, error = survey_preview_email(survey=survey, language=language)
    if email is None:
        return error
    email.to, email.cc, email.bcc = [to], [], []
    email.subject = f"[Test] {email.subject}"
    email.send()
    return ""
