"""Themes in a pile of comments: TF-IDF of one- and two-word phrases, factorised by NMF. Pure and
deterministic: the same comments in the same order give the same themes (fixed seeds, SVD-based
start), on any machine with the pinned numpy/scipy/scikit-learn.

How many themes: each count from `THEMES_MIN` to `THEMES_MAX` is tried on an even sample of the
comments and the one whose themes' top terms occur together most (mean NPMI coherence) wins; a
larger count wins a near tie. Then the chosen count is fitted on all comments, and each comment
belongs to the theme it weighs most in (none if it shares no term with any).
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

THEMES_MIN, THEMES_MAX = 6, 12
SEED = 0
TERMS_KEPT = 20  # per theme: what is stored, shown and matched between runs
COHERENCE_TERMS = 8
COHERENCE_TIE = 0.005
SAMPLE_FOR_COUNT = 5000  # comments used to choose the count (the final fit reads all)
MAX_TERMS = 20000  # vocabulary cap: the most frequent phrases
# Words and phrases carried by more than this share of comments say nothing about any one theme.
MAX_TERM_SHARE = 0.5
# Addresses, links and anything with digits are never terms (they name people, orders, accounts).
_NOT_WORDS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.IGNORECASE)
_WORD = r"(?u)\b[^\W\d_]{2,}\b"


@dataclass(frozen=True)
class ThemeFit:
    terms: list[list[tuple[str, float]]]  # per theme: top terms with unit-length weights, heaviest first
    assignment: NDArray[np.intp]  # per comment: index into `terms`, -1 for none
    strength: NDArray[np.float64]  # per comment: how much of its weight is in its theme (0..1)


def _vectorizer(min_comments: int) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        preprocessor=lambda text: _NOT_WORDS.sub(" ", text.lower()),
        token_pattern=_WORD,
        ngram_range=(1, 2),
        stop_words="english",
        min_df=min_comments,
        max_df=MAX_TERM_SHARE,
        max_features=MAX_TERMS,
        sublinear_tf=True,
        dtype=np.float64,
    )


def _nmf(count: int) -> Any:
    from sklearn.decomposition import NMF

    return NMF(n_components=count, init="nndsvd", random_state=SEED, max_iter=400)


def _coherence(present: Any, components: NDArray[np.float64]) -> float:
    """Mean NPMI of each theme's top terms, by the comments they occur in (`present`: 0/1 matrix)."""
    documents = present.shape[0]
    frequency = np.asarray(present.sum(axis=0)).ravel() / documents
    scores = []
    for component in components:
        top = np.argsort(-component, kind="stable")[:COHERENCE_TERMS]
        sub = present[:, top]
        together = (sub.T @ sub).toarray() / documents
        for a in range(len(top)):
            for b in range(a + 1, len(top)):
                joint = together[a, b]
                if joint <= 0:
                    scores.append(-1.0)
                elif joint >= 1:
                    scores.append(1.0)
                else:
                    pmi = np.log(joint / (frequency[top[a]] * frequency[top[b]]))
                    scores.append(float(pmi / -np.log(joint)))
    return float(np.mean(scores)) if scores else -1.0


def _theme_count(matrix: Any, counts: range) -> int:
    step = max(1, matrix.shape[0] // SAMPLE_FOR_COUNT)
    sample = matrix[::step]
    present = (sample > 0).astype(np.float64).tocsc()
    best, best_score = counts[0], -2.0
    for count in counts:
        score = _coherence(present, _nmf(count).fit(sample).components_)
        if score >= best_score - COHERENCE_TIE:
            best, best_score = count, max(score, best_score)
    return best


def themes_fit(texts: Sequence[str], *, min_term_comments: int) -> ThemeFit | None:
    """Themes of `texts`; None when there are too few comments or words to tell any apart."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    if len(texts) < THEMES_MIN * min_term_comments:
        return None
    vectorizer = _vectorizer(min_term_comments)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no term left (every word too rare, too common or a stop word)
        return None
    largest = min(THEMES_MAX, matrix.shape[1] - 1, len(texts) // min_term_comments)
    if largest < THEMES_MIN:
        return None
    with warnings.catch_warnings():
        # A fit that stops at max_iter is still a fixed, usable answer; the warning would only be noise.
        warnings.simplefilter("ignore", ConvergenceWarning)
        count = _theme_count(matrix, range(THEMES_MIN, largest + 1))
        model = _nmf(count)
        weights = model.fit_transform(matrix)
    vocabulary = vectorizer.get_feature_names_out()
    terms = []
    for component in model.components_:
        top = np.argsort(-component, kind="stable")[:TERMS_KEPT]
        top = top[component[top] > 0]
        norm = float(np.linalg.norm(component[top])) or 1.0
        terms.append([(str(vocabulary[i]), round(float(component[i]) / norm, 4)) for i in top])
    totals = weights.sum(axis=1)
    assignment = np.where(totals > 0, weights.argmax(axis=1), -1)
    strength = np.where(totals > 0, weights.max(axis=1) / np.where(totals > 0, totals, 1), 0.0)
    return ThemeFit(terms=terms, assignment=assignment, strength=strength)


def terms_similarity(a: Sequence[Sequence[Any]], b: Sequence[Sequence[Any]]) -> float:
    """Cosine similarity of two themes' term weights ([[term, weight], ...]): 1 same terms in the same
    proportions, 0 no term in common."""
    left: Mapping[str, float] = {term: float(weight) for term, weight in a}
    right: Mapping[str, float] = {term: float(weight) for term, weight in b}
    dot = sum(weight * right.get(term, 0.0) for term, weight in left.items())
    norms = float(np.linalg.norm(list(left.values()))) * float(np.linalg.norm(list(right.values())))
    return dot / norms if norms else 0.0


def themes_match(
    old: Sequence[Sequence[Sequence[Any]]], new: Sequence[Sequence[Sequence[Any]]], *, min_similarity: float
) -> dict[int, int]:
    """Which new theme is which old one: {new index: old index}. The pairing maximises the summed
    similarity of term weights (Hungarian method); a pair below `min_similarity` is no match."""
    if not old or not new:
        return {}
    from scipy.optimize import linear_sum_assignment

    similarity = np.array([[terms_similarity(n, o) for o in old] for n in new])
    rows, columns = linear_sum_assignment(similarity, maximize=True)
    return {int(n): int(o) for n, o in zip(rows, columns, strict=True) if similarity[n, o] >= min_similarity}
