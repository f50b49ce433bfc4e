"""Staff may trim a quote, never rewrite it: the shown text is always runs of the customer's own words,
with an ellipsis wherever words were left out."""

import pytest

from testimonials.quotes import QuoteNotVerbatim, name_shown, quote_trim

ORIGINAL = "Great product, fast support. The onboarding call was great."


@pytest.mark.parametrize(
    ("wanted", "shown"),
    [
        (ORIGINAL, ORIGINAL),
        ("Great product", "Great product…"),
        ("The onboarding call was great.", "… The onboarding call was great."),
        ("Great product … was great.", "Great product… was great."),
        ("Great product ... The onboarding call", "Great product… The onboarding call…"),
        ("  fast support.  ", "… fast support.…"),
    ],
)
def test_a_trim_keeps_the_customers_words_and_marks_each_cut_with_an_ellipsis(
    wanted: str, shown: str
) -> None:
    assert quote_trim(original=ORIGINAL, wanted=wanted) == shown


@pytest.mark.parametrize(
    "wanted",
    [
        "Great product, amazing support.",  # a word changed
        "great product",  # case changed
        "fast support. Great product,",  # reordered
        "Great product, fast support. The onboarding call was great. Buy it!",  # words added
        "Great prod",  # a word cut in half
        "…",  # nothing kept
        "",
        "<script>alert(1)</script>",
    ],
)
def test_anything_but_a_trim_is_refused(wanted: str) -> None:
    with pytest.raises(QuoteNotVerbatim):
        quote_trim(original=ORIGINAL, wanted=wanted)


def test_a_trim_copies_the_original_text_with_its_line_breaks() -> None:
    original = "First line.\nSecond   line here."

    assert quote_trim(original=original, wanted="First line. Second line") == "First line.\nSecond   line…"


@pytest.mark.parametrize(
    ("display", "shown"),
    [("full", "Ann Peeters"), ("first_initial", "Ann P."), ("anonymous", "")],
)
def test_the_name_is_shown_as_the_person_chose(display: str, shown: str) -> None:
    assert name_shown(display=display, first_name="Ann", last_name="Peeters", name="") == shown
    assert name_shown(display=display, first_name="", last_name="", name="Ann Peeters") == shown
