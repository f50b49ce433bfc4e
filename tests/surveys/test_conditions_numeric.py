"""Numeric conditions (at_least, at_most), e.g. an account's licenses: numbers and numeric text compare,
anything else never matches."""

from typing import Any

import pytest

from customers.models import Person
from surveys.conditions import conditions_match, conditions_problems


@pytest.mark.parametrize(
    ("licenses", "op", "bound", "holds"),
    [
        (120, "at_least", 100, True),
        (100, "at_least", 100, True),
        (99, "at_least", 100, False),
        ("250", "at_least", 100, True),
        (20, "at_most", 50, True),
        (51.5, "at_most", 50, False),
        (True, "at_least", 0, False),
        ("lots", "at_least", 0, False),
        (None, "at_most", 10, False),
        ("nan", "at_most", 10, False),
        (10**400, "at_least", 0, False),  # too large for a float: never a match, never an error
        ("1e999", "at_least", 0, False),
    ],
)
def test_numeric_conditions(licenses: Any, op: str, bound: int, holds: bool) -> None:
    person = Person(traits={"licenses": licenses})
    conditions = [{"path": "traits.licenses", "op": op, "value": bound}]

    assert conditions_match(conditions=conditions, payload={}, person=person) is holds


def test_a_bound_that_is_no_finite_number_is_a_problem_not_an_error() -> None:
    conditions = [{"path": "traits.licenses", "op": "at_most", "value": 10**400}]

    assert conditions_problems(conditions=conditions) == ["Condition 1: 'at_most' needs a number, e.g. 100."]
