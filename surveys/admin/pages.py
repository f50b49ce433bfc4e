"""The URLs of a survey's own admin pages (preview, send test, why (not) surveyed); the pages are
framed by templates/admin/object_page.html (hub.admin.page_object, page_context)."""

from typing import Any

from django.contrib import admin
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from surveys.models import Survey


def survey_page_url(page: str, survey: Survey, **query: Any) -> str:
    url = reverse(f"admin:surveys_survey_{page}", args=[survey.pk])
    return f"{url}?{urlencode(query)}" if query else url


class SurveyPages(admin.ModelAdmin[Survey]):
    """What the survey admin's page mixins (surveys/admin/preview.py, eligibility.py) build on."""

    def survey_page(self, suffix: str, view: Any) -> URLPattern:
        """/admin/surveys/survey/<id>/<suffix>/, named surveys_survey_<suffix> ("-" and "/" as "_")."""
        return path(
            f"<path:object_id>/{suffix}/",
            self.admin_site.admin_view(view),
            name=f"surveys_survey_{suffix.replace('-', '_').replace('/', '_')}",
        )
