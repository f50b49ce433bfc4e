"""The theme finder on its own: the same comments give the same themes in any process, and a rerun's
themes are paired with the earlier ones by their terms."""

import json
import os
import subprocess
import sys

from insights.services.themes import MATCH_MIN_SIMILARITY
from insights.topics import themes_fit, themes_match
from tests.conftest import ROOT
from tests.insights.texts import LATER_TOPIC, TOPICS, topic_of, topic_texts

NAMES = sorted(TOPICS)
FIT = """
import json
from insights.topics import themes_fit
from tests.insights.texts import TOPICS, topic_texts
topics = [sorted(TOPICS)[i % len(TOPICS)] for i in range(240)]
fit = themes_fit(topic_texts(topics, seed=3), min_term_comments=3)
print(json.dumps({"terms": fit.terms, "assignment": fit.assignment.tolist()}))
"""


def test_the_same_comments_give_the_same_themes_in_any_process() -> None:
    runs = [
        subprocess.run(
            [sys.executable, "-c", FIT],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]

    assert runs[0] == runs[1]
    assert len(json.loads(runs[0])["terms"]) == len(TOPICS)


def test_a_rerun_pairs_each_theme_with_the_earlier_one_of_its_topic_and_a_new_topic_with_none() -> None:
    before = themes_fit(topic_texts([NAMES[i % 6] for i in range(240)], seed=1), min_term_comments=3)
    # Later: other comments; nobody talks about mobile any more, pricing is new.
    later_words = {
        **{name: words for name, words in TOPICS.items() if name != "mobile"},
        "pricing": LATER_TOPIC,
    }
    later_names = sorted(later_words)
    after = themes_fit(
        topic_texts([later_names[i % 6] for i in range(300)], seed=2, words=later_words), min_term_comments=3
    )
    assert before is not None
    assert after is not None

    pairs = themes_match(before.terms, after.terms, min_similarity=MATCH_MIN_SIMILARITY)

    old = [topic_of(terms) for terms in before.terms]
    new = [topic_of(terms, later_words) for terms in after.terms]
    assert set(old) == set(NAMES)
    assert set(new) == set(later_names)
    paired = [(new[n], old[o]) for n, o in pairs.items()]
    assert all(now == then for now, then in paired)  # never a theme of another topic
    assert sorted(str(then) for _, then in paired) == [name for name in NAMES if name != "mobile"]
