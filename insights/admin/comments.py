"""Comment analysis in the admin: the comments by sentiment, language and flag, and each survey's
themes (shares by band and change, quotes) that staff rename, merge and hide. Thin: the numbers come
from insights/selectors.py, the edits go through insights/services/themes.py."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from hub.admin import ReadOnlyAdmin, excerpt, to_the_second
from hub.cleaning import parse_id
from insights.models import CommentAnalysis, Theme, terms_shown
from insights.selectors import ThemeShares, theme_shares, themes_period
from insights.services.themes import themes_hide, themes_merge
from surveys.models import Survey


class BandFilter(admin.SimpleListFilter):
    title = "band"
    parameter_name = "band"
    RANGES = {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(band, f"{band}s ({low}-{high})") for band, (low, high) in self.RANGES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() not in self.RANGES:
            return queryset
        low, high = self.RANGES[str(self.value())]
        return queryset.filter(response__rating__gte=low, response__rating__lte=high)


@admin.register(CommentAnalysis)
class CommentAnalysisAdmin(ReadOnlyAdmin):
    list_display = ("comment", "survey", "rating", "sentiment", "language", "flagged", "theme", "answered")
    list_filter = (
        "flagged",
        "sentiment",
        ("language", admin.AllValuesFieldListFilter),
        BandFilter,
        ("response__survey", admin.RelatedOnlyFieldListFilter),
    )
    search_fields = ("response__comment",)
    list_select_related = ("response__survey", "theme")
    ordering = ("-response__answered_at", "-pk")
    fields = ("answer", "comment", "sentiment", "compound", "language", "flagged", "theme", "analysed_at")
    readonly_fields = fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # an analysis goes with its comment

    @admin.display(description="comment")
    def comment(self, obj: CommentAnalysis) -> str:
        return excerpt(obj.response.comment, 120)

    @admin.display(description="answer")
    def answer(self, obj: CommentAnalysis) -> str:
        url = reverse("admin:surveys_response_change", args=[obj.response_id])
        return format_html('<a href="{}">answer {}</a>', url, obj.response_id)

    @admin.display(description="survey", ordering="response__survey__name")
    def survey(self, obj: CommentAnalysis) -> str:
        return str(obj.response.survey)

    @admin.display(description="score", ordering="response__rating")
    def rating(self, obj: CommentAnalysis) -> str:
        return f"{obj.response.rating} ({obj.response.band})"

    @admin.display(description="answered", ordering="response__answered_at")
    def answered(self, obj: CommentAnalysis) -> str:
        return to_the_second(obj.response.answered_at)


def _share(shares: ThemeShares | None, band: str) -> str:
    if shares is None:
        return "—"
    share, change = shares.shares.get(band), shares.change(band)
    if share is None:
        return format_html('<span class="hub-muted">{}</span>', "no comments")
    if change is None:
        return f"{100 * share:.0f} % (new)"
    return f"{100 * share:.0f} % ({change:+.1f} pts)"


def shares_attach(themes: list[Theme]) -> None:
    """Give each theme its `shares` in its survey's themes period (one computation per survey)."""
    by_survey: dict[int, dict[int, ThemeShares]] = {}
    for theme in themes:
        if theme.survey_id not in by_survey:
            by_survey[theme.survey_id] = theme_shares(
                survey=theme.survey, period=themes_period(survey=theme.survey)
            )
        theme.shares = by_survey[theme.survey_id].get(theme.pk)  # type: ignore[attr-defined]


class ThemeChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        shares_attach(list(self.result_list))


class ThemeForm(forms.ModelForm[Theme]):
    class Meta:
        model = Theme
        fields = ("name", "hidden", "merged_into")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["merged_into"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Theme.objects.filter(
            survey_id=self.instance.survey_id, merged_into=None, active=True
        ).exclude(pk=self.instance.pk)


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin[Theme]):
    """A survey's themes page: filter by survey. The shares are of the latest run's period (the last
    INSIGHTS_THEME_PERIOD_DAYS days when none ran yet), the change against the period before."""

    form = ThemeForm
    list_display = (
        "top_terms",
        "name",
        "hidden",
        "shares",
        "comments",
        "example_quotes",
        "merged_into",
        "survey",
    )
    list_display_links = ("top_terms",)
    list_editable = ("name", "hidden")
    list_filter = ("survey", "active", "hidden")
    list_select_related = ("survey", "merged_into")
    search_fields = ("name",)
    actions = ("merge", "hide", "show")
    readonly_fields = (
        "survey",
        "top_terms",
        "shares",
        "comments",
        "example_quotes",
        "active",
        "first_found_at",
        "last_found_at",
    )
    fieldsets = (
        (None, {"fields": ("name", "hidden", "merged_into")}),
        (
            "What the theme job found",
            {"fields": readonly_fields},
        ),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # themes are found, not written

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the next run would find it again: hide it instead

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs.setdefault("widgets", {"name": forms.TextInput(attrs={"size": 18})})
        return super().get_changelist_form(request, **kwargs)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Theme]:
        return super().get_queryset(request).prefetch_related("quotes")

    def save_model(self, request: HttpRequest, obj: Theme, form: Any, change: bool) -> None:
        target = form.cleaned_data.get("merged_into") if "merged_into" in form.changed_data else None
        if target is None:  # no merge asked for here (the list's form has no such field)
            super().save_model(request, obj, form, change)
            return
        obj.merged_into = None
        super().save_model(request, obj, form, change)
        themes_merge(themes=[obj], into=target)  # whatever was merged into it follows

    # --- what the job found -----------------------------------------------------------------------
    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ThemeChangeList

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Theme | None:
        theme = super().get_object(request, object_id, from_field)
        if theme is not None:
            shares_attach([theme])
        return theme

    @admin.display(description="top terms")
    def top_terms(self, obj: Theme) -> str:
        return ", ".join(terms_shown(obj.terms, 6))

    @admin.display(description="share of each band's comments (change against the period before)")
    def shares(self, obj: Theme) -> str:
        if obj.merged_into_id is not None:
            return format_html('<span class="hub-muted">{}</span>', "counted in the theme it is merged into")
        shares = getattr(obj, "shares", None)
        return format_html_join(
            "",
            "{}: {}<br>",
            ((f"{band}s", _share(shares, band)) for band in ("promoter", "passive", "detractor")),
        )

    @admin.display(description="example quotes")
    def example_quotes(self, obj: Theme) -> str:
        quotes = [quote.comment for quote in obj.quotes.all() if quote.comment]
        if not quotes:
            return format_html('<span class="hub-muted">{}</span>', "none")
        return format_html_join("", "<q>{}</q><br>", ((excerpt(quote, 200),) for quote in quotes))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        survey = self._survey_shown(request)
        context = {**(extra_context or {})}
        if survey is not None:
            period = themes_period(survey=survey)
            start, end = (date_format(moment, "DATE_FORMAT") for moment in (period.start, period.end))
            context["subtitle"] = f"{survey}: {start} to {end}, change against the period before"
        return super().changelist_view(request, extra_context=context)

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        return [name for name in shown if name != "survey"] if self._survey_shown(request) else shown

    def _survey_shown(self, request: HttpRequest) -> Survey | None:
        """The survey whose themes the list shows: the one filtered on, or the only one with themes."""
        survey_id = parse_id(request.GET.get("survey__id__exact"))
        if survey_id is not None:
            return Survey.objects.filter(pk=survey_id).first()
        with_themes = Survey.objects.filter(themes__isnull=False).distinct()[:2]
        return with_themes[0] if len(with_themes) == 1 else None

    # --- staff's edits ------------------------------------------------------------------------------
    @admin.action(
        description="Merge the selected themes into one (the one with most comments)", permissions=["change"]
    )
    def merge(self, request: HttpRequest, queryset: QuerySet[Theme]) -> None:
        themes = list(queryset.order_by("-comments", "pk"))
        if len({theme.survey_id for theme in themes}) != 1 or len(themes) < 2:
            self.message_user(request, "Select two or more themes of one survey.", messages.ERROR)
            return
        target = next((theme for theme in themes if theme.merged_into_id is None), themes[0])
        try:
            merged = themes_merge(themes=themes, into=target)
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"{merged} theme(s) now count as part of “{target.label}”.")

    @admin.action(description="Hide the selected themes", permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet[Theme]) -> None:
        self.message_user(request, f"{themes_hide(themes=queryset, hidden=True)} theme(s) hidden.")

    @admin.action(description="Show the selected themes again", permissions=["change"])
    def show(self, request: HttpRequest, queryset: QuerySet[Theme]) -> None:
        self.message_user(request, f"{themes_hide(themes=queryset, hidden=False)} theme(s) shown.")
