"""NPS reports in the admin: the hub-wide overview ("NPS reports" on the admin index) and one report
page per survey: score with its margin, trend with its confidence band, distribution, breakdowns,
drivers, themes, recent comments, exports. Thin: the numbers come from insights/services/reports.py,
the pictures from insights/charts.py, the files from insights/exports.py; HTML in
templates/admin/insights/report.html.

Who sees them: staff who may view surveys and answers (`surveys.view_survey`, `surveys.view_response`).
"""

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode

from hub.admin import page_object
from insights.charts import distribution_chart, trend_chart
from insights.dimensions import FIXED, ReportQueryInvalid
from insights.exports import answers_export, export_filename, export_response, report_tables
from insights.models import SurveyReport
from insights.report_query import ReportQuery, export_format_parse, report_query_parse, traits_parse
from insights.selectors import themes_for
from insights.services.reports import DEFAULT_BREAKDOWNS, READ_ANSWERS, Report, report_build, surveys_scores
from surveys.models import Survey

# Query parameters that are the page's settings, not filters (kept when a filter is added or removed).
SETTINGS = ("since", "until", "days", "tz", "count", "trend", "rolling", "by")


def chart_title(report: Report, what: str) -> str:
    return f"{what}, {report.period.start:%Y-%m-%d} to {report.period.end:%Y-%m-%d}"


@admin.register(SurveyReport)
class SurveyReportAdmin(admin.ModelAdmin[SurveyReport]):
    """The list is the overview; a survey's row leads to its report. No form: reports are read only."""

    fields = ("name",)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_staff and request.user.has_perms(READ_ANSWERS))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("", view(self.overview_view), name="insights_surveyreport_changelist"),
            path("export/", view(self.export_view), name="insights_surveyreport_export"),
            path(
                "<path:object_id>/export/", view(self.export_view), name="insights_surveyreport_survey_export"
            ),
            path("<path:object_id>/change/", view(self.report_view), name="insights_surveyreport_change"),
            path("<path:object_id>/", view(self.report_redirect)),
        ]

    def report_redirect(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:insights_surveyreport_change", args=[object_id]))

    def _query(self, request: HttpRequest) -> ReportQuery | None:
        try:
            return report_query_parse(request.GET)
        except ReportQueryInvalid as error:
            messages.error(request, f"{error} Showing the last 90 days instead.")
            return None

    def _context(self, request: HttpRequest, report: Report, title: str, **extra: Any) -> dict[str, Any]:
        settings_query = {name: request.GET[name] for name in SETTINGS if request.GET.get(name)}
        filters = [
            {
                "name": name,
                "value": value,
                "remove": "?"
                + urlencode({**settings_query, **{k: v for k, v in report.filters.items() if k != name}}),
            }
            for name, value in report.filters.items()
        ]
        current = {**settings_query, **report.filters}
        breakdowns = [
            {
                "breakdown": breakdown,
                "cells": [
                    {
                        "cell": cell,
                        "link": None
                        if cell.value is None
                        else "?" + urlencode({**current, breakdown.dimension: cell.value}),
                    }
                    for cell in breakdown.cells
                ],
            }
            for breakdown in report.breakdowns
        ]
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "report": report,
            "query": request.GET,
            "filters": filters,
            "filter_inputs": report.filters.items(),
            "breakdowns": breakdowns,
            "by": ",".join(breakdown.dimension for breakdown in report.breakdowns),
            "default_by": ",".join(DEFAULT_BREAKDOWNS),
            "dimensions": ", ".join(FIXED),
            "current_query": urlencode(current),
            "trend_svg": trend_chart(
                report.trend, title=chart_title(report, f"NPS by {report.granularity}")
            ).decode(),
            "rolling_svg": trend_chart(
                report.rolling, title=chart_title(report, f"NPS over rolling {report.rolling_days} days")
            ).decode()
            if report.rolling
            else "",
            "distribution_svg": distribution_chart(
                report.distribution, title=chart_title(report, "Answers per score")
            ).decode(),
            "distribution_rows": list(enumerate(report.distribution)),
            **extra,
        }

    def overview_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        query = self._query(request) or report_query_parse({})
        report = report_build(survey=None, **query.build_arguments())
        context = self._context(
            request,
            report,
            "NPS reports: all surveys",
            surveys=surveys_scores(period=query.period, count=query.count, filters=query.filters),
            export_url=reverse("admin:insights_surveyreport_export"),
        )
        return TemplateResponse(request, "admin/insights/report.html", context)

    def report_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        survey = page_object(self, request, object_id)
        query = self._query(request) or report_query_parse({})
        report = report_build(survey=survey, **query.build_arguments())
        context = self._context(
            request,
            report,
            f"NPS report: {survey}",
            survey=survey,
            original=survey,
            themes=themes_for(survey=survey, period=query.period),
            survey_url=reverse("admin:surveys_survey_change", args=[survey.pk]),
            export_url=reverse("admin:insights_surveyreport_survey_export", args=[survey.pk]),
        )
        return TemplateResponse(request, "admin/insights/report.html", context)

    def export_view(self, request: HttpRequest, object_id: str | None = None) -> HttpResponseBase:
        """?what=answers|report&export=csv|xlsx (&traits=plan,country for answers), the page's query."""
        survey: Survey | None = page_object(self, request, object_id) if object_id else None
        if not self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        page = (
            reverse("admin:insights_surveyreport_change", args=[survey.pk])
            if survey
            else reverse("admin:insights_surveyreport_changelist")
        )
        kept = {
            name: str(request.GET.get(name))
            for name in request.GET
            if name not in ("what", "export", "traits")
        }
        back = f"{page}?{urlencode(kept)}"
        try:
            query = report_query_parse(request.GET)
            fmt = export_format_parse(request.GET)
            traits = traits_parse(request.GET)
        except ReportQueryInvalid as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(back)
        if request.GET.get("what") == "report":
            report = report_build(survey=survey, **query.build_arguments(), comments_per_band=0)
            name = export_filename(what="report", survey=survey, fmt=fmt, period=query.period)
            return export_response(report_tables(report), fmt=fmt, filename=name)
        if traits and not request.user.has_perm("customers.view_person"):
            messages.error(request, "Exporting traits needs permission to view people.")
            return HttpResponseRedirect(back)
        table = answers_export(survey=survey, period=query.period, filters=query.filters, traits=traits)
        name = export_filename(what="answers", survey=survey, fmt=fmt, period=query.period)
        return export_response([table], fmt=fmt, filename=name)
