"""What happens to testimonials: a person's consent and its withdrawal, staff's moderation and trims,
and what unsubscribing, merging and erasing a person do to them (hooks named in hub/pipeline.py).

The public pages (testimonials/views.py) and the admin only validate and call these.
"""

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from customers.models import Account, Person
from surveys.models import Response
from testimonials.models import Testimonial
from testimonials.quotes import name_shown, quote_trim
from testimonials.selectors import consent_asked, consent_wording
from testimonials.tasks import receipt_send

COMPANY_MAX_LENGTH = 200


class ConsentNotAsked(Exception):
    """This answer is not one the survey asks for a quote (band, no comment, person gone)."""


def person_company(*, person: Person) -> str:
    """The company a person belongs to, offered as the company to show: their first account's name."""
    account = Account.objects.filter(memberships__person=person).order_by("pk").first()
    return account.name if account else ""


def testimonial_consent(*, response: Response, name_display: str, company: str, language: str) -> Testimonial:
    """Record the person's consent to quote their comment: the quote as it is now, the wording shown in
    the page's `language`, and the time; pending until staff approve it; the consent email (with the
    withdrawal link) follows. Once per answer: the same form sent again (or after a withdrawal)
    changes nothing."""
    if name_display not in Testimonial.NameDisplay.values:
        raise ValueError(f"unknown name display {name_display!r}")
    if len(company) > COMPANY_MAX_LENGTH:
        raise ValueError(f"the company is longer than {COMPANY_MAX_LENGTH} characters")
    with transaction.atomic():
        response = (
            Response.objects.select_for_update(of=("self",))
            .select_related("survey", "person")
            .get(pk=response.pk)
        )
        if not consent_asked(response=response):
            raise ConsentNotAsked(response.pk)
        person = response.person
        assert person is not None  # consent_asked refuses erased people
        values: dict[str, Any] = {
            "survey": response.survey,
            "person": person,
            "original": response.comment,
            "quote": response.comment,
            "name_display": name_display,
            "display_name": name_shown(
                display=name_display,
                first_name=person.first_name,
                last_name=person.last_name,
                name=person.name,
            ),
            "company": company.strip(),
            "consent_text": consent_wording(survey=response.survey, language=language),
            "consent_language": language,
            "consented_at": timezone.now(),
        }
        testimonial, created = Testimonial.objects.get_or_create(response=response, defaults=values)
        if created:
            # The consent email (testimonials/receipts.py), after commit; the beat's sweeper sends it
            # if this enqueue is lost.
            transaction.on_commit(lambda: receipt_send.delay(testimonial.pk))
    return testimonial


def _withdraw(rows: QuerySet[Testimonial], *, by: str) -> int:
    """Consent withdrawn: out of every embed at once; the quote, name and company are emptied, the
    record of the consent (wording, times) stays."""
    return rows.exclude(status=Testimonial.Status.WITHDRAWN).update(
        status=Testimonial.Status.WITHDRAWN,
        featured=False,
        original="",
        quote="",
        display_name="",
        company="",
        withdrawn_at=timezone.now(),
        withdrawn_by=by,
        updated_at=timezone.now(),
    )


def testimonial_withdraw(*, testimonial: Testimonial) -> bool:
    """The person withdraws their consent (their link); False when it was withdrawn already."""
    return _withdraw(Testimonial.objects.filter(pk=testimonial.pk), by=Testimonial.WithdrawnBy.PERSON) > 0


def person_unsubscribe_testimonials(*, person: Person, **kwargs: Any) -> int:
    """Unsubscribing withdraws every quote of the person, and of any record with their email (the
    same mailbox, as unsubscribing suppresses it hub-wide)."""
    same = Q(person=person)
    if person.email:
        same |= Q(person__email=person.email)
    return _withdraw(Testimonial.objects.filter(same), by=Testimonial.WithdrawnBy.UNSUBSCRIBE)


def person_merge_testimonials(*, keep: Person, gone: Person, **kwargs: Any) -> None:
    Testimonial.objects.filter(person=gone).update(person=keep)


def person_erase_testimonials(*, person: Person, **kwargs: Any) -> dict[str, int]:
    """GDPR: the person's testimonials are deleted, consent records included (they name the person)."""
    deleted, _ = Testimonial.objects.filter(Q(person=person) | Q(response__person=person)).delete()
    return {"testimonials_deleted": deleted}


def testimonials_moderate(*, testimonials: Iterable[Testimonial], action: str) -> int:
    """Staff's approve, hide, feature and unfeature; a withdrawn quote stays withdrawn. Returns how
    many changed."""
    ids = [t.pk for t in testimonials]
    rows = Testimonial.objects.filter(pk__in=ids).exclude(status=Testimonial.Status.WITHDRAWN)
    now = timezone.now()
    if action == "approve":
        return rows.exclude(status=Testimonial.Status.APPROVED).update(
            status=Testimonial.Status.APPROVED, approved_at=now, updated_at=now
        )
    if action == "hide":
        return rows.exclude(status=Testimonial.Status.HIDDEN).update(
            status=Testimonial.Status.HIDDEN, featured=False, updated_at=now
        )
    if action == "feature":
        return rows.filter(featured=False).update(
            status=Testimonial.Status.APPROVED,
            featured=True,
            approved_at=now,
            updated_at=now,
        )
    if action == "unfeature":
        return rows.filter(featured=True).update(featured=False, updated_at=now)
    raise ValueError(f"unknown moderation {action!r}")


def testimonial_trim(*, testimonial: Testimonial, wanted: str) -> Testimonial:
    """Staff's trim of the quote (testimonials/quotes.py: whole words of the customer's, in order;
    raises QuoteNotVerbatim otherwise)."""
    testimonial.quote = quote_trim(original=testimonial.original, wanted=wanted)
    testimonial.save(update_fields=["quote", "updated_at"])
    return testimonial
