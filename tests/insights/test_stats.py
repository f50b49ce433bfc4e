"""The NPS statistics against hand-computed cases, and properties that must hold for any answers."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insights.stats import (
    Score,
    cell_hidden,
    change_between,
    correlation,
    score_from_distribution,
)


def test_the_issue_case_p_half_d_fifth_n_100_is_30_plus_minus_15_3() -> None:
    score = Score(promoters=50, passives=30, detractors=20)

    assert score.n == 100
    assert score.nps == pytest.approx(30.0)
    # Var = 0.5 + 0.2 - 0.3² = 0.61; SE = √(0.61 / 100) = 0.0781; margin = 1.96 * 0.0781 * 100
    assert round(score.margin or 0, 1) == 15.3
    assert (round(score.low or 0, 1), round(score.high or 0, 1)) == (14.7, 45.3)


def test_all_promoters_has_no_margin_and_all_detractors_is_minus_100() -> None:
    assert Score(promoters=40, passives=0, detractors=0).margin == 0
    assert Score(promoters=0, passives=0, detractors=40).nps == -100


def test_an_even_split_of_promoters_and_detractors_has_the_widest_margin() -> None:
    # p = d = 0.5: Var = 1, SE = √(1/100) = 0.1, margin 19.6
    score = Score(promoters=50, passives=0, detractors=50)

    assert score.nps == 0
    assert score.margin == pytest.approx(19.6)


def test_no_answers_has_no_score() -> None:
    score = Score(promoters=0, passives=0, detractors=0)

    assert (score.nps, score.margin, score.low, score.share("promoter")) == (None, None, None, None)
    assert score.small_sample


def test_under_30_people_is_a_small_sample() -> None:
    assert Score(promoters=29, passives=0, detractors=0).small_sample
    assert not Score(promoters=20, passives=5, detractors=5).small_sample


def test_the_distribution_is_counted_into_bands() -> None:
    score = score_from_distribution({0: 1, 6: 2, 7: 3, 8: 4, 9: 5, 10: 6})

    assert (score.detractors, score.passives, score.promoters) == (3, 7, 11)
    assert score.share("passive") == pytest.approx(7 / 21)


def test_a_change_is_significant_only_beyond_the_combined_margin() -> None:
    before = Score(promoters=50, passives=30, detractors=20)  # 30, SE 7.81
    small_rise = Score(promoters=55, passives=30, detractors=15)  # 40
    big_rise = Score(promoters=75, passives=20, detractors=5)  # 70

    small = change_between(now=small_rise, before=before)
    big = change_between(now=big_rise, before=before)

    assert small is not None
    assert big is not None
    # 1.96 * √(SE₁² + SE₂²), SE₂ = √((0.7 - 0.16) / 100) * 100 = 7.35
    assert small.threshold == pytest.approx(1.96 * math.sqrt(0.61 / 100 + 0.54 / 100) * 100)
    assert small.delta == pytest.approx(10)
    assert not small.significant
    assert big.delta == pytest.approx(40)
    assert big.significant


def test_no_change_without_answers_in_both_periods() -> None:
    assert change_between(now=Score(1, 0, 0), before=Score(0, 0, 0)) is None


def test_cells_under_five_people_are_hidden() -> None:
    assert cell_hidden(4)
    assert not cell_hidden(5)


def correlation_of(pairs: list[tuple[int, int]]) -> float | None:
    """`correlation` over the sums of (x, y) pairs, as SQL aggregates give them to it."""
    return correlation(
        n=len(pairs),
        sum_x=sum(x for x, _ in pairs),
        sum_y=sum(y for _, y in pairs),
        sum_xx=sum(x * x for x, _ in pairs),
        sum_yy=sum(y * y for _, y in pairs),
        sum_xy=sum(x * y for x, y in pairs),
    )


def test_correlation_by_hand() -> None:
    assert correlation_of([(1, 2), (2, 4), (3, 6)]) == pytest.approx(1.0)
    assert correlation_of([(1, 6), (2, 4), (3, 2)]) == pytest.approx(-1.0)
    # x = 1,2,3,4; y = 2,1,4,3: r = 0.6
    assert correlation_of([(1, 2), (2, 1), (3, 4), (4, 3)]) == pytest.approx(0.6)
    assert correlation_of([(5, 1), (5, 2), (5, 3)]) is None  # a constant has no correlation


counts = st.integers(min_value=0, max_value=10_000)


@given(promoters=counts, passives=counts, detractors=counts)
def test_adding_a_promoter_never_lowers_the_score(promoters: int, passives: int, detractors: int) -> None:
    before = Score(promoters=promoters, passives=passives, detractors=detractors)
    after = Score(promoters=promoters + 1, passives=passives, detractors=detractors)

    assert after.nps is not None
    assert before.nps is None or after.nps >= before.nps


@given(promoters=counts, passives=counts, detractors=counts)
def test_the_interval_stays_within_minus_100_and_100(promoters: int, passives: int, detractors: int) -> None:
    score = Score(promoters=promoters, passives=passives, detractors=detractors)

    if score.n:
        assert -100 <= (score.low or 0) <= (score.nps or 0) <= (score.high or 0) <= 100
        assert (score.margin or 0) >= 0
