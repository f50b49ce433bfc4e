"""Email to a customer about their answer (an auto-reply, a reply from a case, "did we solve it?"):
the survey's sender and Reply-To, threaded under the survey email (References: its Message-ID), over
Django's email backend (EMAIL_URL), as the survey dispatcher sends (surveys/services/dispatch.py)."""

from email.utils import formataddr

from django.core.mail import EmailMessage, get_connection

from customers.models import Person
from hub.mail import message_id
from surveys.models import Response
from surveys.services.dispatch import invitation_message_id, survey_sender


def personalised(text: str, *, person: Person) -> str:
    """{first_name} and {name} replaced (plain replacement: other braces in staff's text stay as they are)."""
    first = person.first_name or (person.name.split(" ")[0] if person.name else "")
    return text.replace("{first_name}", first).replace("{name}", person.name or first)


def customer_email_send(
    *,
    response: Response,
    person: Person,
    subject: str,
    body: str,
    what: str,
    language: str = "",
    auto: bool = False,
) -> None:
    """Send one plain-text email to the person who gave `response`; raises what the backend raises."""
    survey = response.survey
    headers = {
        "Message-ID": message_id(what=what),
        "References": invitation_message_id(invitation=response.invitation),
        "In-Reply-To": invitation_message_id(invitation=response.invitation),
    }
    if language:
        headers["Content-Language"] = language
    if auto:
        headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: no vacation replies back
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=survey_sender(survey),
        to=[formataddr((person.name, person.email))],
        reply_to=[survey.reply_to] if survey.reply_to else None,
        headers=headers,
    )
    get_connection(fail_silently=False).send_messages([message])
