"""Part `themes` of `make bench`: the nightly theme job for one survey with 100,000 comments.

On its own database it writes one survey's answers in bulk (untimed): 100,000 comments of 6-30
words drawn from 40 topics of 12 words each, common words and sentiment words, 70 % in this period
and 30 % in the one before. It then times, separately:

1. the comment sweeper (`comments_sweep`: language, sentiment and flag of every comment; in
   production each comment is analysed as it arrives, so the nightly job finds this done);
2. the theme job (`themes_find`: reading the comments, TF-IDF, choosing 6-12 themes, NMF, filing
   every comment under its theme, picking quotes), the target being 60 s.

Its line (bench/run.py divides 100,000 comments in 60 s by the job's rate):

    themes comments=<n> seconds=<s> sweep_seconds=<s> themes=<n>
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from common import Options, PartResult, bench_database, sql

DB_NAME = "hbench_themes"
TARGET_COMMENTS, TARGET_SECONDS = 100_000, 60
TOPICS = 40
COMMON = [
    "really",
    "very",
    "quite",
    "also",
    "just",
    "overall",
    "always",
    "usually",
    "think",
    "would",
    "like",
    "much",
    "bit",
    "lately",
]
SENTIMENT = [
    "great",
    "good",
    "love",
    "nice",
    "happy",
    "bad",
    "awful",
    "terrible",
    "slow",
    "broken",
    "annoying",
    "helpful",
]


def comments_create(count: int, *, days: int) -> Any:
    """One survey with `count` answers, each with a comment, over the last two periods of `days`."""
    from surveys.models import Invitation, Response, Survey

    rng = random.Random(20261205)
    topics = [[f"topic{t}word{w}" for w in range(12)] for t in range(TOPICS)]
    survey = Survey.objects.create(name="Bench themes", slug="bench-themes")
    now = datetime.now(UTC)
    step = 10_000
    for offset in range(0, count, step):
        n = min(step, count - offset)
        invitations = Invitation.objects.bulk_create(
            Invitation(survey=survey, due_at=now, status=Invitation.Status.RESPONDED) for _ in range(n)
        )
        answers = []
        for invitation in invitations:
            words = rng.sample(rng.choice(topics), rng.randrange(2, 6))
            if rng.random() < 0.3:
                words += rng.sample(rng.choice(topics), 2)
            words += rng.choices(COMMON, k=rng.randrange(2, 16)) + rng.choices(
                SENTIMENT, k=rng.randrange(0, 3)
            )
            rng.shuffle(words)
            age = timedelta(
                days=rng.uniform(0, days) if rng.random() < 0.7 else rng.uniform(days, 2 * days - 1)
            )
            answers.append(
                Response(
                    invitation=invitation,
                    survey=survey,
                    rating=rng.randrange(11),
                    comment=" ".join(words[:30]).capitalize() + ".",
                    language="en",
                    answered_at=now - age,
                    rated_at=now - age,
                )
            )
        Response.objects.bulk_create(answers)
    sql("ANALYZE")
    return survey


def measure(options: Options) -> PartResult:
    comments = options.size(TARGET_COMMENTS, least=10_000)
    with bench_database(DB_NAME, options):
        from django.conf import settings

        from insights.models import CommentAnalysis
        from insights.services.comments import comments_sweep
        from insights.services.themes import themes_find

        survey = comments_create(comments, days=settings.INSIGHTS_THEME_PERIOD_DAYS)
        started = time.perf_counter()
        analysed = comments_sweep()
        sweep_seconds = time.perf_counter() - started
        started = time.perf_counter()
        run = themes_find(survey=survey)
        seconds = time.perf_counter() - started
        filed = CommentAnalysis.objects.exclude(theme=None).count()
    if analysed != comments or run.comments != comments or not 6 <= run.themes <= 12:
        raise SystemExit(f"analysed {analysed}, read {run.comments}, found {run.themes} themes")
    print(f"themes: {comments:,} comments in {seconds:.1f} s, sweeper {sweep_seconds:.1f} s", flush=True)
    section = "\n".join(
        [
            "### Comment analysis (`themes`)",
            "",
            f"One survey with {comments:,} answers with comments (6-30 words from {TOPICS} topics, common "
            "and sentiment words; 70 % this period, 30 % the one before), written in bulk (untimed).",
            "",
            "| comments | comment sweeper (language, sentiment, flag) | theme job (`themes_find`) | themes | "
            "comments filed under one |",
            "|---|---|---|---|---|",
            f"| {comments:,} | {sweep_seconds:.1f} s | {seconds:.1f} s | {run.themes} | {filed:,} |",
        ]
    )
    return PartResult(
        values={
            "comments_per_s": comments / seconds,
            "target_comments_per_s": TARGET_COMMENTS / TARGET_SECONDS,
        },
        line=[
            ("comments", str(comments)),
            ("seconds", f"{seconds:.1f}"),
            ("sweep_seconds", f"{sweep_seconds:.1f}"),
            ("themes", str(run.themes)),
        ],
        section=section,
    )
