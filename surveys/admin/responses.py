"""Responses: the answers, filtered by survey, NPS band, language and time."""

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from hub.admin import ReadOnlyAdmin, json_table
from surveys.models import SCORE_BANDS, Response
from surveys.selectors import responses_in_band


class BandFilter(admin.SimpleListFilter):
    title = "band"
    parameter_name = "band"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(band, f"{band}s ({low}-{high})") for band, (low, high) in SCORE_BANDS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return responses_in_band(queryset, band=self.value() or "")


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = ["survey", "rating", "band", "comment_excerpt", "person", "answered_at"]
    list_filter = ["survey", BandFilter, "language", "answered_at"]
    search_fields = ["=person__email", "=person__user_id", "comment"]
    list_select_related = ["survey", "person"]
    ordering = ["-answered_at"]
    show_full_result_count = False
    readonly_fields = (
        "survey",
        "invitation",
        "person",
        "rating",
        "band",
        "comment",
        "tag_ratings_shown",
        "language",
        "answered_at",
        "rated_at",
        "updated_at",
    )
    fields = readonly_fields

    @admin.display(description="tag ratings")
    def tag_ratings_shown(self, obj: Response) -> str:
        return json_table(obj.tag_ratings, key_label="tag", value_label="rating")

    @admin.display(description="band")
    def band(self, obj: Response) -> str:
        return obj.band

    @admin.display(description="comment")
    def comment_excerpt(self, obj: Response) -> str:
        return Truncator(obj.comment).chars(80)
