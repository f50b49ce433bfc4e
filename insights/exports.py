"""Exports as CSV and XLSX: the answers (with the traits staff choose, tag ratings, comment, band,
language, source, times) and a report's tables. For the admin and the API alike.

Streamed: the answers are read by `.iterator(chunk_size)` (a server-side cursor on PostgreSQL), CSV
lines are yielded as they are written, and XLSX is written by XlsxWriter in constant-memory mode (one
row in memory) to a temporary file that is then sent in blocks. So a million answers never sit in
memory at once.

Spreadsheet formulas: a CSV cell starting with =, +, -, @, tab or carriage return gets a leading
apostrophe (OWASP's advice against CSV injection: a comment "=HYPERLINK(...)" stays text); XLSX cells
are written as strings, never as formulas.
"""

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Literal

from django.db.models import QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.http import FileResponse, StreamingHttpResponse

from insights.selectors import Period, score_band_expression
from insights.services.reports import Report, Score, answers_in, survey_tags
from surveys.models import Response, Survey

Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_ROWS = 1_048_576  # Excel's limit, the header row included


@dataclass(frozen=True)
class Table:
    name: str
    header: list[str]
    rows: Iterable[Sequence[Any]]


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: text that a spreadsheet would run as a formula starts with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Line:
    """A file that hands back what is written to it (csv.writer writes one line per row)."""

    def write(self, text: str) -> str:
        return text


def csv_stream(tables: Iterable[Table]) -> Iterator[str]:
    """CSV text, line by line. Several tables follow each other, each under a line naming it."""
    writer = csv.writer(_Line())
    tables = list(tables) if not isinstance(tables, list) else tables
    for index, table in enumerate(tables):
        if len(tables) > 1:
            yield ("\r\n" if index else "") + writer.writerow([csv_cell(table.name)])
        yield writer.writerow([csv_cell(name) for name in table.header])
        for row in table.rows:
            yield writer.writerow([csv_cell(value) for value in row])


def xlsx_file(tables: Iterable[Table]) -> IO[bytes]:
    """An XLSX workbook (a sheet per table) in a temporary file, positioned at its start; deleted when
    closed."""
    import xlsxwriter

    output = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it)
    workbook = xlsxwriter.Workbook(
        output,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "remove_timezone": True,
            "default_date_format": "yyyy-mm-dd hh:mm:ss",
        },
    )
    bold = workbook.add_format({"bold": True})
    names: set[str] = set()
    for table in tables:
        sheet = workbook.add_worksheet(_sheet_name(table.name, names))
        sheet.write_row(0, 0, table.header, bold)
        written = 1
        for row in table.rows:
            if written == XLSX_MAX_ROWS - 1:
                sheet.write_string(written, 0, "(more rows than a sheet holds: use CSV)")
                break
            for column, value in enumerate(row):
                if isinstance(value, str):
                    sheet.write_string(written, column, value)
                elif value is not None:
                    sheet.write(written, column, value)
            written += 1
    workbook.close()
    output.seek(0)
    return output


def _sheet_name(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique."""
    base = "".join(" " if char in "[]:*?/\\" else char for char in name)[:28] or "table"
    candidate, number = base, 2
    while candidate.lower() in taken:
        candidate, number = f"{base[:26]} {number}", number + 1
    taken.add(candidate.lower())
    return candidate


def answers_table(*, survey: Survey | None, answers: QuerySet[Response], traits: Sequence[str]) -> Table:
    """Every answer of `answers`, oldest first, read in chunks as the rows are consumed."""
    tags = survey_tags(survey)
    columns = {
        "answer": "pk",
        "survey": "survey__name",
        "person": "person_id",
        "answered_at": "answered_at",
        "rated_at": "rated_at",
        "updated_at": "updated_at",
        "score": "rating",
        "band": "band",
        "language": "language",
        "source": "person__source__name",
        "comment": "comment",
        "sentiment": "analysis__sentiment",
    }
    annotations: dict[str, Any] = {"band": score_band_expression()}
    for index, tag in enumerate(tags):
        annotations[f"tag_{index}"] = KeyTextTransform(tag, "tag_ratings")
        columns[f"tag: {tag}"] = f"tag_{index}"
    for index, trait in enumerate(traits):
        annotations[f"trait_{index}"] = KeyTextTransform(trait, "person__traits")
        columns[f"trait: {trait}"] = f"trait_{index}"
    rows = (
        answers.annotate(**annotations)
        .order_by("answered_at", "pk")
        .values_list(*columns.values())
        .iterator(chunk_size=CHUNK)
    )
    return Table(name="answers", header=list(columns), rows=rows)


def answers_export(
    *, survey: Survey | None, period: Period, filters: dict[str, str], traits: Sequence[str]
) -> Table:
    """The answers given in `period` matching `filters` (every answer, not one per person)."""
    return answers_table(
        survey=survey, answers=answers_in(survey=survey, period=period, filters=filters), traits=traits
    )


def _score_row(score: Score) -> list[Any]:
    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return [
        score.n,
        rounded(score.nps),
        rounded(score.margin),
        score.promoters,
        score.passives,
        score.detractors,
        "yes" if score.small_sample else "",
    ]


SCORE_HEADER = ["n", "nps", "margin", "promoters", "passives", "detractors", "small sample"]


def report_tables(report: Report) -> list[Table]:
    """The report's numbers as tables: summary, distribution, trend, rolling, breakdowns, drivers."""
    summary = [["period", report.period.start, report.period.end, *_score_row(report.score)]]
    if report.previous is not None:
        summary.append(
            [
                "previous period",
                report.previous_period.start,
                report.previous_period.end,
                *_score_row(report.previous),
            ]
        )
    tables = [
        Table("summary", ["", "from", "until", *SCORE_HEADER], summary),
        Table(
            "distribution",
            ["score", report.count],
            [[rating, n] for rating, n in enumerate(report.distribution)],
        ),
        Table(
            f"trend by {report.granularity}",
            ["from", "until", *SCORE_HEADER],
            [[point.start, point.end, *_score_row(point.score)] for point in report.trend],
        ),
    ]
    if report.rolling:
        tables.append(
            Table(
                f"rolling {report.rolling_days} days",
                ["from", "until", *SCORE_HEADER],
                [[point.start, point.end, *_score_row(point.score)] for point in report.rolling],
            )
        )
    for breakdown in report.breakdowns:
        rows: list[list[Any]] = [[cell.label, *_score_row(cell.score)] for cell in breakdown.cells]
        if breakdown.hidden_cells:
            rows.append(
                [f"(hidden: {breakdown.hidden_cells} groups under 5 people)", breakdown.hidden_people]
            )
        tables.append(Table(f"by {breakdown.title}", [breakdown.title, *SCORE_HEADER], rows))
    if report.drivers:
        tables.append(
            Table(
                "drivers",
                ["tag", "answers", "average", "correlation with score"],
                [
                    [
                        driver.tag,
                        driver.answers,
                        None if driver.average is None else round(driver.average, 2),
                        None if driver.correlation is None else round(driver.correlation, 2),
                    ]
                    for driver in report.drivers
                ],
            )
        )
    return tables


def export_filename(*, what: str, survey: Survey | None, fmt: Format, period: Period) -> str:
    name = survey.slug if survey is not None else "all-surveys"
    return f"{name}-{what}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{fmt}"


def export_response(
    tables: list[Table], *, fmt: Format, filename: str
) -> StreamingHttpResponse | FileResponse:
    """The download: CSV streamed line by line, XLSX written to a temporary file and sent in blocks."""
    if fmt == "csv":
        response: StreamingHttpResponse | FileResponse = StreamingHttpResponse(
            csv_stream(tables), content_type=CONTENT_TYPES["csv"]
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(
        xlsx_file(tables), as_attachment=True, filename=filename, content_type=CONTENT_TYPES["xlsx"]
    )
