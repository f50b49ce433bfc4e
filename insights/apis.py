"""Management API for reports: a survey's NPS report as JSON (or its tables as CSV/XLSX), and the
answers as CSV/XLSX, streamed. Staff who may read answers (`surveys.view_response`) only; an export
with traits also needs `customers.view_person` (traits are the people's data)."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from hub.api import ErrorSerializer, error_response
from hub.cleaning import parse_id
from hub.permissions import staff_with_permissions
from insights.dimensions import ReportQueryInvalid
from insights.exports import answers_export, export_filename, export_response, report_tables
from insights.report_query import export_format_parse, report_query_parse, traits_parse
from insights.services.reports import READ_ANSWERS, Report, report_build
from insights.stats import BANDS, Score
from surveys.models import Survey

QUERY_PARAMETERS = [
    OpenApiParameter("since", OpenApiTypes.STR, description="Start of the period (ISO 8601 date or time)."),
    OpenApiParameter("until", OpenApiTypes.STR, description="End of the period; a date includes that day."),
    OpenApiParameter("days", OpenApiTypes.INT, description="Without `since`: the days up to `until` (90)."),
    OpenApiParameter(
        "tz",
        OpenApiTypes.STR,
        description="IANA time zone (default UTC) of the dates in `since`/`until` and of the trend's days, "
        "weeks and months, e.g. Europe/Berlin.",
    ),
    OpenApiParameter(
        "count",
        OpenApiTypes.STR,
        enum=["people", "answers"],
        description="n counts people (each one's latest answer in the period, the default) or every answer.",
    ),
    OpenApiParameter("trend", OpenApiTypes.STR, enum=["day", "week", "month"], description="Trend buckets."),
    OpenApiParameter("rolling", OpenApiTypes.INT, enum=[30, 90], description="Add a rolling-window trend."),
    OpenApiParameter(
        "by",
        OpenApiTypes.STR,
        description="Breakdowns, comma-separated: source, account, "
        "language, channel, trait:<name>, tag:<name> (default source,language,channel).",
    ),
    OpenApiParameter(
        "filters",
        OpenApiTypes.OBJECT,
        style="form",
        explode=True,
        description="Filters: any dimension as a parameter, e.g. ?trait:plan=pro&language=en&source=3.",
    ),
]


class ScoreSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="People (or answers, with count=answers).")
    nps = serializers.FloatField(allow_null=True, help_text="-100 to 100; null without answers.")
    margin = serializers.FloatField(allow_null=True, help_text="95 % margin of error, in points.")
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    promoters = serializers.IntegerField()
    passives = serializers.IntegerField()
    detractors = serializers.IntegerField()
    shares = serializers.DictField(child=serializers.FloatField(allow_null=True), help_text="0..1 per band.")
    small_sample = serializers.BooleanField(help_text="n under 30: read the score with care.")


class PointSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    score = ScoreSerializer()


class CellSerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True, help_text="The value to filter on.")
    label = serializers.CharField()  # type: ignore[assignment]
    score = ScoreSerializer()


class BreakdownSerializer(serializers.Serializer):
    dimension = serializers.CharField()
    cells = CellSerializer(many=True)
    hidden_cells = serializers.IntegerField(help_text="Groups of fewer than 5 people, not shown.")
    hidden_people = serializers.IntegerField()


class DriverSerializer(serializers.Serializer):
    tag = serializers.CharField()
    answers = serializers.IntegerField()
    average = serializers.FloatField(allow_null=True)
    correlation = serializers.FloatField(allow_null=True, help_text="Pearson's r with the 0-10 score.")


class ChangeSerializer(serializers.Serializer):
    delta = serializers.FloatField(help_text="Points since the period before.")
    threshold = serializers.FloatField(help_text="1.96 * sqrt(SE1² + SE2²): a larger change is significant.")
    significant = serializers.BooleanField()


class ReportSerializer(serializers.Serializer):
    survey = serializers.IntegerField(allow_null=True)
    period = serializers.DictField(child=serializers.DateTimeField())
    count = serializers.CharField()
    filters = serializers.DictField(child=serializers.CharField())
    score = ScoreSerializer()
    distribution = serializers.ListField(child=serializers.IntegerField(), help_text="Per score 0..10.")
    response_rate = serializers.DictField(allow_null=True, help_text="delivered, answered, rate.")
    previous = ScoreSerializer(allow_null=True)
    change = ChangeSerializer(allow_null=True)
    granularity = serializers.CharField()
    trend = PointSerializer(many=True)
    rolling_days = serializers.IntegerField(allow_null=True)
    rolling = PointSerializer(many=True)
    breakdowns = BreakdownSerializer(many=True)
    drivers = DriverSerializer(many=True)


def score_dict(score: Score) -> dict[str, Any]:
    return {
        "n": score.n,
        "nps": score.nps,
        "margin": score.margin,
        "low": score.low,
        "high": score.high,
        "promoters": score.promoters,
        "passives": score.passives,
        "detractors": score.detractors,
        "shares": {band: score.share(band) for band in BANDS},
        "small_sample": score.small_sample,
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The report as JSON data (recent comments are left out: the responses API has them)."""

    def points(items: list[Any]) -> list[dict[str, Any]]:
        return [{"start": p.start, "end": p.end, "score": score_dict(p.score)} for p in items]

    rate = report.response_rate
    change = report.change
    return {
        "survey": report.survey.pk if report.survey else None,
        "period": {"start": report.period.start, "end": report.period.end},
        "count": report.count,
        "filters": report.filters,
        "score": score_dict(report.score),
        "distribution": report.distribution,
        "response_rate": None
        if rate is None
        else {"delivered": rate.delivered, "answered": rate.answered, "rate": rate.rate},
        "previous": None if report.previous is None else score_dict(report.previous),
        "change": None
        if change is None
        else {"delta": change.delta, "threshold": change.threshold, "significant": change.significant},
        "granularity": report.granularity,
        "trend": points(report.trend),
        "rolling_days": report.rolling_days,
        "rolling": points(report.rolling),
        "breakdowns": [
            {
                "dimension": breakdown.dimension,
                "cells": [
                    {"value": cell.value, "label": cell.label, "score": score_dict(cell.score)}
                    for cell in breakdown.cells
                ],
                "hidden_cells": breakdown.hidden_cells,
                "hidden_people": breakdown.hidden_people,
            }
            for breakdown in report.breakdowns
        ],
        "drivers": [
            {"tag": d.tag, "answers": d.answers, "average": d.average, "correlation": d.correlation}
            for d in report.drivers
        ],
    }


def _survey(ref: str) -> Survey:
    pk = parse_id(ref)
    survey = Survey.objects.filter(pk=pk).first() if pk is not None else None
    if survey is None:
        raise NotFound(f"No survey {ref[:40]!r}.")
    return survey


class SurveyReportView(APIView):
    """A survey's NPS report: score with its 95 % margin, change, trend, breakdowns, drivers."""

    permission_classes = [staff_with_permissions(*READ_ANSWERS)]

    @extend_schema(
        parameters=[
            *QUERY_PARAMETERS,
            OpenApiParameter(
                "export",
                OpenApiTypes.STR,
                enum=["csv", "xlsx"],
                description="The report's tables as a file instead of JSON.",
            ),
        ],
        responses={
            200: OpenApiResponse(ReportSerializer, description="JSON, or CSV/XLSX with ?export="),
            400: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request: Request, pk: str) -> Any:
        survey = _survey(pk)
        try:
            query = report_query_parse(request.query_params)
            fmt = export_format_parse(request.query_params) if "export" in request.query_params else None
        except ReportQueryInvalid as error:
            return error_response(400, "invalid", str(error))
        report = report_build(survey=survey, **query.build_arguments(), comments_per_band=0)
        if fmt is None:
            return ApiResponse(report_dict(report))
        filename = export_filename(what="report", survey=survey, fmt=fmt, period=query.period)
        return export_response(report_tables(report), fmt=fmt, filename=filename)


class ResponsesExportView(APIView):
    """Every answer in the period matching the filters, as CSV or XLSX, streamed."""

    permission_classes = [staff_with_permissions(*READ_ANSWERS)]

    @extend_schema(
        parameters=[
            OpenApiParameter("survey", OpenApiTypes.INT, description="Survey id (every survey when absent)."),
            *[
                parameter
                for parameter in QUERY_PARAMETERS
                if parameter.name not in ("count", "trend", "rolling", "by")
            ],
            OpenApiParameter(
                "traits",
                OpenApiTypes.STR,
                description="Traits to add as columns, comma-separated (needs customers.view_person).",
            ),
            OpenApiParameter(
                "export", OpenApiTypes.STR, enum=["csv", "xlsx"], description="csv (default) or xlsx."
            ),
        ],
        responses={(200, "text/csv"): OpenApiTypes.BINARY, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def get(self, request: Request) -> Any:
        survey = _survey(request.query_params["survey"]) if request.query_params.get("survey") else None
        try:
            query = report_query_parse(request.query_params)
            traits = traits_parse(request.query_params)
            fmt = export_format_parse(request.query_params)
        except ReportQueryInvalid as error:
            return error_response(400, "invalid", str(error))
        if traits and not request.user.has_perm("customers.view_person"):
            raise PermissionDenied("Exporting traits needs permission to view people.")
        table = answers_export(survey=survey, period=query.period, filters=query.filters, traits=traits)
        filename = export_filename(what="answers", survey=survey, fmt=fmt, period=query.period)
        return export_response([table], fmt=fmt, filename=filename)
