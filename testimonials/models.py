"""Testimonials: a quote a person allowed the company to publish, and each survey's settings for them."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from surveys.models import SCORE_BANDS

DEFAULT_CONSENT_TEXT = (
    "{company} may quote my answer above publicly, on its website and in its marketing, with my name "
    "shown as I choose below. I can withdraw this at any time."
)


def default_bands() -> list[str]:
    return ["promoter"]


class TestimonialSettings(models.Model):
    """Which answers of a survey are asked for a quote, and in which words, e.g. "Onboarding NPS":
    promoters (9-10), with a Dutch consent text for Dutch pages. A survey without a row asks its
    promoters in the default English words."""

    survey = models.OneToOneField(
        "surveys.Survey",
        on_delete=models.CASCADE,
        related_name="testimonial_settings",
        help_text="The survey whose thank-you page asks.",
    )
    bands = models.JSONField(
        "asked bands",
        default=default_bands,
        blank=True,
        help_text='The bands whose thank-you page asks for a quote: "promoter" (9-10), "passive" (7-8), '
        '"detractor" (0-6). Empty: the survey never asks.',
    )
    consent_text = models.TextField(
        "consent wording",
        blank=True,
        help_text="What the person agrees to, shown next to the checkbox and stored with the consent; "
        "{company} is replaced by the survey's company name. Blank: the default English wording.",
    )
    consent_translations = models.JSONField(
        "consent wording per language",
        default=dict,
        blank=True,
        help_text='The wording in other languages, e.g. {"nl": "{company} mag mijn antwoord ..."}; the '
        "page's language picks one (nl-BE falls back to nl), else the wording above.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "testimonial settings"

    def __str__(self) -> str:
        return f"Testimonials of {self.survey}"

    def clean(self) -> None:
        bands = self.bands
        if not isinstance(bands, list) or not all(band in SCORE_BANDS for band in bands):
            raise ValidationError({"bands": f"A list of bands out of {', '.join(SCORE_BANDS)}."})
        texts = self.consent_translations
        if not isinstance(texts, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in texts.items()
        ):
            raise ValidationError({"consent_translations": "An object from language code to wording."})


class Testimonial(models.Model):
    """A person's consented quote, e.g. "The onboarding call was great" by "Ann P., Acme" (answer 9),
    pending until staff approve it; shown in embeds while approved (featured ones first).

    `original` is the comment the person agreed to have quoted, as it was then; `quote` is what embeds
    show: the original, or staff's trim of it (whole words of the original, "…" where words were left
    out; testimonials/quotes.py checks it). Withdrawing (the person's link, an unsubscribe) empties the
    quote, the name and the company and keeps the consent's record; erasing the person deletes the row.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending moderation"
        APPROVED = "approved"
        HIDDEN = "hidden", "hidden by staff"
        WITHDRAWN = "withdrawn", "consent withdrawn"

    class NameDisplay(models.TextChoices):
        FULL = "full", "full name"
        FIRST_INITIAL = "first_initial", "first name and initial"
        ANONYMOUS = "anonymous"

    class Receipt(models.TextChoices):
        DUE = "due", "to send"
        SENDING = "sending"
        SENT = "sent"
        NOT_SENT = "not_sent", "not sent (no address, suppressed, or withdrawn first)"
        FAILED = "failed"

    class WithdrawnBy(models.TextChoices):
        PERSON = "person", "the person (withdrawal link)"
        UNSUBSCRIBE = "unsubscribe", "unsubscribing"

    survey = models.ForeignKey("surveys.Survey", on_delete=models.CASCADE, related_name="testimonials")
    response = models.OneToOneField(
        "surveys.Response",
        on_delete=models.CASCADE,
        related_name="testimonial",
        help_text="The answer quoted.",
    )
    person = models.ForeignKey(
        "customers.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="testimonials",
        help_text="Who agreed (their erasure deletes the testimonial).",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    featured = models.BooleanField(default=False, help_text="Shown first in every embed while approved.")
    original = models.TextField(
        "customer's words", blank=True, help_text="The comment the person agreed to, as it was then."
    )
    quote = models.TextField(
        blank=True,
        help_text="What embeds show: the customer's words, or a trim of them (whole words, in order; "
        "“…” marks words left out). Trim only, never rewrite: anything else is refused.",
    )
    name_display = models.CharField(
        "name shown as", max_length=16, choices=NameDisplay.choices, default=NameDisplay.ANONYMOUS
    )
    display_name = models.CharField(
        "name shown", max_length=400, blank=True, help_text="The name as the person chose to show it."
    )
    company = models.CharField(
        max_length=200, blank=True, help_text="The company the person chose to show (optional)."
    )
    tags = models.JSONField(
        default=list,
        blank=True,
        help_text='Staff\'s tags, e.g. ["onboarding", "support"]; embeds can pick one.',
    )
    consent_text = models.TextField(
        "consent wording", blank=True, help_text="The wording the person agreed to, as shown to them."
    )
    consent_language = models.CharField(max_length=35, blank=True, help_text="The page's language.")
    consented_at = models.DateTimeField(default=timezone.now, help_text="When the person agreed.")
    approved_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.CharField(max_length=16, choices=WithdrawnBy.choices, blank=True)
    receipt = models.CharField(
        "consent email",
        max_length=16,
        choices=Receipt.choices,
        default=Receipt.DUE,
        help_text="The email thanking the person, with their quote and the withdrawal link "
        "(testimonials/receipts.py), sent once.",
    )
    receipt_claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a sender took it.")
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    receipt_error = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why it failed (the error and the mail server's answer, no address).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-consented_at", "-pk"]
        indexes = [
            models.Index(
                fields=["survey", "featured", "approved_at"],
                condition=Q(status="approved"),
                name="testimonial_shown",
            ),
            models.Index(
                fields=["receipt_claimed_at"],
                condition=Q(receipt__in=["due", "sending"]),
                name="testimonial_receipt",
            ),
        ]

    def __str__(self) -> str:
        return f"Testimonial {self.pk} ({self.get_status_display()})"
