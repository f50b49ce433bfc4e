"""An export of many answers is streamed: rows are read in chunks as the file is written, so memory
stays flat however many answers there are (the issue's "1M answers do not load into memory")."""

import csv
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from django.test import Client

from surveys.models import Invitation, Response
from tests.surveys.factories import survey_make

pytestmark = pytest.mark.django_db

ANSWERS = 50_000
COMMENT = "The export must not hold this comment fifty thousand times in memory. "  # 72 bytes
START = datetime(2026, 3, 1, tzinfo=UTC)


def answers_bulk_make(count: int, *, repeat: int = 6) -> None:
    survey = survey_make()
    invitations = Invitation.objects.bulk_create(
        [Invitation(survey=survey, person=None, due_at=START, status="responded") for _ in range(count)],
        batch_size=5000,
    )
    Response.objects.bulk_create(
        [
            Response(
                invitation=invitation,
                survey=survey,
                rating=index % 11,
                comment=f"{index} {COMMENT * repeat}",
                answered_at=START + timedelta(seconds=index),
                rated_at=START,
            )
            for index, invitation in enumerate(invitations)
        ],
        batch_size=5000,
    )


def download_with_peak(client: Client, url: str, into: Path) -> int:
    """Download `url` into a file; the most memory Python held at once meanwhile (in bytes), after
    a first export of no answers loaded whatever an export loads once."""
    assert b"".join(client.get(f"{url}&since=2000-01-01&until=2000-01-02").streaming_content)  # type: ignore[attr-defined]
    tracemalloc.start()
    try:
        response = client.get(url)
        assert response.status_code == 200
        with into.open("wb") as file:
            for chunk in response.streaming_content:  # type: ignore[attr-defined]
                file.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


QUERY = "since=2026-02-01&until=2026-04-30"


@pytest.mark.timeout(600)
def test_a_csv_export_of_50k_answers_streams_in_bounded_memory(admin_client: Client, tmp_path: Path) -> None:
    answers_bulk_make(ANSWERS)

    peak = download_with_peak(admin_client, f"/api/responses/export/?{QUERY}", tmp_path / "a.csv")

    with (tmp_path / "a.csv").open(newline="") as file:
        rows = list(csv.reader(file))
    assert len(rows) == ANSWERS + 1
    assert rows[-1][rows[0].index("comment")].startswith(f"{ANSWERS - 1} The export")
    # The comments alone are ~22 MB: holding the rows at once would pass this by far.
    assert peak < 10 * 2**20, f"the CSV export held {peak / 2**20:.1f} MB at once"


@pytest.mark.timeout(600)
def test_an_xlsx_export_is_written_row_by_row(admin_client: Client, tmp_path: Path) -> None:
    answers = 12_000  # XlsxWriter is slower than csv: fewer, longer comments (~2 KB)
    answers_bulk_make(answers, repeat=28)

    peak = download_with_peak(
        admin_client, f"/api/responses/export/?{QUERY}&export=xlsx", tmp_path / "a.xlsx"
    )

    sheet = openpyxl.load_workbook(tmp_path / "a.xlsx", read_only=True).active
    assert sheet is not None
    assert sheet.max_row == answers + 1
    # The comments alone are ~24 MB.
    assert peak < 10 * 2**20, f"the XLSX export held {peak / 2**20:.1f} MB at once"
