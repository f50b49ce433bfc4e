"""Part `report` of `make bench`: the NPS report (`report_build`) of one survey with 100,000 answers.

On its own database it writes (untimed) 20,000 people in 3 sources with a `plan` trait and 100,000
answers of one survey spread over the last 180 days (a person answers 5 times), with languages and
tag ratings, plus 20,000 answers of another survey (noise the queries must skip). It then times, best
of 3 after one warm-up each:

1. the bare SQL aggregate a report cannot do without: answers per rating of the survey in the last
   90 days (`SELECT rating, count(*) ... GROUP BY rating`, every answer);
2. `report_build` of those 90 days as the admin's page asks for it: people counted (each one's latest
   answer), the period before compared, the weekly trend, breakdowns by source, language and channel,
   drivers, recent comments;
3. the same with every answer counted (no per-person step), and with a rolling 30-day trend.

Its line (bench/run.py divides the bare aggregate's time by the report's):

    report answers=<n> people=<n> report_seconds=<s> bare_seconds=<s> ratio=<report ÷ bare>
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from common import Options, PartResult, bench_database, sql

DB_NAME = "hbench_report"
ANSWERS, ANSWERS_PER_PERSON, DAYS = 100_000, 5, 180
PLANS = ["free", "starter", "pro", "enterprise"]
LANGUAGES = ["en", "de", "fr", "nl", "es"]


def answers_create(count: int) -> Any:
    """One survey with `count` answers by count / 5 people, and another survey's answers besides."""
    from customers.models import Person
    from integrations.models import Source
    from surveys.models import Invitation, Response, Survey

    rng = random.Random(20261205)
    sources = [Source.objects.create(name=f"Bench source {n}", slug=f"bench-{n}") for n in range(3)]
    people = Person.objects.bulk_create(
        Person(source=sources[n % 3], user_id=f"u{n}", traits={"plan": rng.choice(PLANS)})
        for n in range(max(1, count // ANSWERS_PER_PERSON))
    )
    survey = Survey.objects.create(name="Bench report", slug="bench-report", tags=["Support", "Price"])
    other = Survey.objects.create(name="Bench other", slug="bench-other")
    now = datetime.now(UTC)
    step = 10_000
    for target, total in ((survey, count), (other, count // 5)):
        for offset in range(0, total, step):
            n = min(step, total - offset)
            chosen = [rng.choice(people) for _ in range(n)]
            invitations = Invitation.objects.bulk_create(
                Invitation(survey=target, person=person, due_at=now, status="responded", sent_at=now)
                for person in chosen
            )
            answers = []
            for invitation, person in zip(invitations, chosen, strict=True):
                at = now - timedelta(days=rng.uniform(0, DAYS))
                rating = min(10, max(0, round(rng.gauss(7.5, 2.5))))
                answers.append(
                    Response(
                        invitation=invitation,
                        survey=target,
                        person=person,
                        rating=rating,
                        comment="Fine." if rng.random() < 0.2 else "",
                        tag_ratings={"Support": rng.randrange(1, 6), "Price": rng.randrange(1, 6)},
                        language=rng.choice(LANGUAGES),
                        answered_at=at,
                        rated_at=at,
                    )
                )
            Response.objects.bulk_create(answers)
    sql("ANALYZE")
    return survey


def best_of(runs: int, function: Any) -> float:
    function()  # warm-up: caches, plans, the first import of what the report uses
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(options: Options) -> PartResult:
    answers = options.size(ANSWERS, least=10_000)
    with bench_database(DB_NAME, options):
        from insights.services.reports import report_build, report_period

        survey = answers_create(answers)
        period = report_period(days=90)
        people = sql(
            "SELECT count(DISTINCT person_id) FROM surveys_response WHERE survey_id = %s", [survey.pk]
        )[0][0]
        in_period = sql(
            "SELECT count(*) FROM surveys_response WHERE survey_id = %s AND answered_at >= %s"
            " AND answered_at < %s",
            [survey.pk, period.start, period.end],
        )[0][0]

        def bare() -> None:
            sql(
                "SELECT rating, count(*) FROM surveys_response WHERE survey_id = %s AND answered_at >= %s "
                "AND answered_at < %s GROUP BY rating",
                [survey.pk, period.start, period.end],
            )

        bare_seconds = best_of(3, bare)
        report_seconds = best_of(3, lambda: report_build(survey=survey, period=period))
        answers_seconds = best_of(3, lambda: report_build(survey=survey, period=period, count="answers"))
        rolling_seconds = best_of(1, lambda: report_build(survey=survey, period=period, rolling_days=30))
        report = report_build(survey=survey, period=period)
    ratio = report_seconds / bare_seconds
    print(
        f"report: {answers:,} answers, {report_seconds:.3f} s ({ratio:.0f} times the bare aggregate)",
        flush=True,
    )
    section = "\n".join(
        [
            "### NPS report (`report`)",
            "",
            f"One survey with {answers:,} answers by {people:,} people over {DAYS} days (and another "
            f"survey's {answers // 5:,}), written in bulk (untimed). The report covers the last 90 days: "
            f"{in_period:,} answers, n = {report.score.n:,} people. Best of 3 after a warm-up.",
            "",
            "| what | seconds | ÷ bare aggregate |",
            "|---|---|---|",
            f"| bare `SELECT rating, count(*) ... GROUP BY rating` (every answer) | {bare_seconds:.3f} | 1 |",
            f"| `report_build`, people (the admin page's report) | {report_seconds:.3f} | {ratio:.1f} |",
            f"| `report_build`, every answer | {answers_seconds:.3f} | "
            f"{answers_seconds / bare_seconds:.1f} |",
            "| `report_build`, people, with a rolling 30-day trend (one point a week) | "
            f"{rolling_seconds:.3f} | {rolling_seconds / bare_seconds:.1f} |",
        ]
    )
    return PartResult(
        part="report",
        values={"reports_per_s": 1 / report_seconds, "bare_per_s": 1 / bare_seconds},
        line=[
            ("answers", str(answers)),
            ("people", str(people)),
            ("report_seconds", f"{report_seconds:.3f}"),
            ("answers_seconds", f"{answers_seconds:.3f}"),
            ("rolling_seconds", f"{rolling_seconds:.3f}"),
            ("bare_seconds", f"{bare_seconds:.4f}"),
            ("ratio", f"{ratio:.1f}"),
        ],
        section=section,
    )
