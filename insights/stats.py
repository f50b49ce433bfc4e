"""The statistics of a Net Promoter Score, pure (no database): the score, its margin of error, whether
a change is significant, when a sample is too small to trust and which breakdown cells to hide.

Every answer scores +1 (promoter, 9-10), 0 (passive, 7-8) or -1 (detractor, 0-6); the NPS is 100 times
their mean. With shares p (promoters) and d (detractors) of n, the variance of one answer's score is
p + d - (p - d)², the standard error of the mean √(Var / n), and the 95 % margin 1.96 * SE * 100
points. E.g. p = 0.5, d = 0.2, n = 100: NPS 30, Var 0.7 - 0.09 = 0.61, margin 1.96 * √0.0061 * 100
= 15.3. A change between two periods is significant when |Δ| > 1.96 * √(SE₁² + SE₂²) (in points).
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

Z_95 = 1.96
# Below this many people a score is shown flagged "small sample": its margin is wider than ±18 points
# even in the best case, and the normal approximation behind the margin is poor.
SMALL_SAMPLE = 30
# A breakdown cell (one plan, one country, ...) with fewer people than this is hidden: a few answers
# in a narrow cell can point at one person.
MIN_CELL = 5

BANDS = ("promoter", "passive", "detractor")


def band_of(rating: int) -> str:
    """0-6 detractor, 7-8 passive, 9-10 promoter (surveys.models.score_band, without the import)."""
    return "promoter" if rating >= 9 else "passive" if rating >= 7 else "detractor"


@dataclass(frozen=True)
class Score:
    """An NPS from band counts, with its uncertainty. `nps`, `margin` and `se` are in points (-100 to
    100); None when there is no answer at all."""

    promoters: int
    passives: int
    detractors: int

    @property
    def n(self) -> int:
        return self.promoters + self.passives + self.detractors

    def share(self, band: str) -> float | None:
        """0..1 of n in `band`; None when n is 0."""
        count = {"promoter": self.promoters, "passive": self.passives, "detractor": self.detractors}[band]
        return count / self.n if self.n else None

    @property
    def nps(self) -> float | None:
        if not self.n:
            return None
        return 100 * (self.promoters - self.detractors) / self.n

    @property
    def se(self) -> float | None:
        """Standard error of the score, in points."""
        if not self.n:
            return None
        p, d = self.promoters / self.n, self.detractors / self.n
        variance = max(p + d - (p - d) ** 2, 0.0)  # rounding can leave -1e-17
        return 100 * math.sqrt(variance / self.n)

    @property
    def margin(self) -> float | None:
        """Half the width of the 95 % confidence interval, in points."""
        se = self.se
        return None if se is None else Z_95 * se

    @property
    def small_sample(self) -> bool:
        return self.n < SMALL_SAMPLE

    @property
    def low(self) -> float | None:
        """Lower end of the 95 % interval, never below -100."""
        nps, margin = self.nps, self.margin
        return None if nps is None or margin is None else max(-100.0, nps - margin)

    @property
    def high(self) -> float | None:
        nps, margin = self.nps, self.margin
        return None if nps is None or margin is None else min(100.0, nps + margin)


def score_from_distribution(distribution: Mapping[int, int]) -> Score:
    """{rating 0-10: count} → Score."""
    counts = dict.fromkeys(BANDS, 0)
    for rating, count in distribution.items():
        counts[band_of(rating)] += count
    return Score(promoters=counts["promoter"], passives=counts["passive"], detractors=counts["detractor"])


@dataclass(frozen=True)
class Change:
    """The score now against the period before: `delta` in points, and whether it exceeds
    1.96 * √(SE₁² + SE₂²)."""

    delta: float
    threshold: float
    significant: bool


def change_between(*, now: Score, before: Score) -> Change | None:
    """None when either period has no answer (nothing to compare)."""
    if now.nps is None or before.nps is None or now.se is None or before.se is None:
        return None
    delta = now.nps - before.nps
    threshold = Z_95 * math.sqrt(now.se**2 + before.se**2)
    return Change(delta=delta, threshold=threshold, significant=abs(delta) > threshold)


def cell_hidden(people: int) -> bool:
    """A breakdown cell with fewer than MIN_CELL people is not shown (privacy)."""
    return people < MIN_CELL


def correlation(
    *, n: int, sum_x: float, sum_y: float, sum_xx: float, sum_yy: float, sum_xy: float
) -> float | None:
    """Pearson's r from sums (what SQL aggregates give); None when undefined (n < 3, or either
    variable constant)."""
    if n < 3:
        return None
    cov = n * sum_xy - sum_x * sum_y
    var_x = n * sum_xx - sum_x**2
    var_y = n * sum_yy - sum_y**2
    if var_x <= 0 or var_y <= 0:
        return None
    return max(-1.0, min(1.0, cov / math.sqrt(var_x * var_y)))
