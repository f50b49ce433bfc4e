"""Trigger conditions: the rules a trigger's `conditions` follow, e.g.
[{"path": "traits.plan", "op": "equals", "value": "pro"}, {"path": "traits.email", "op": "exists"},
{"path": "traits.licenses", "op": "at_least", "value": 100}].

Checked when staff save a trigger or an alert rule (the model, the admin, the API) and applied by the
trigger handler (surveys/services/triggers.py) and the alert rules (actions/services/alerts.py). Pure:
no database.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customers.models import Person

OPERATORS = ("equals", "exists", "in", "at_least", "at_most")
NUMERIC_OPERATORS = ("at_least", "at_most")
# How the admin's condition rows name each operator.
OPERATOR_LABELS = {
    "equals": "equals",
    "exists": "is set",
    "in": "is one of",
    "at_least": "is at least",
    "at_most": "is at most",
}
_MISSING = object()


def _number(value: Any) -> float | None:
    """A finite number, or a trait holding one as text ("120"); None for anything else (bools, NaN,
    infinities and integers too large for a float included)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def conditions_problems(*, conditions: Any) -> list[str]:
    """What is wrong with a trigger's conditions (for the admin form and the API)."""
    if not isinstance(conditions, list):
        return ["Conditions must be a list."]
    problems = []
    for index, condition in enumerate(conditions, start=1):
        if (
            not isinstance(condition, dict)
            or not isinstance(condition.get("path"), str)
            or not condition["path"]
        ):
            problems.append(f"Condition {index} needs a path such as traits.plan.")
        elif condition.get("op") not in OPERATORS:
            problems.append(f"Condition {index}: op must be one of {', '.join(OPERATORS)}.")
        elif condition["op"] == "in" and not isinstance(condition.get("value"), list):
            problems.append(f"Condition {index}: 'in' needs a list value.")
        elif condition["op"] == "equals" and "value" not in condition:
            problems.append(f"Condition {index}: 'equals' needs a value.")
        elif condition["op"] in NUMERIC_OPERATORS and _number(condition.get("value")) is None:
            problems.append(f"Condition {index}: '{condition['op']}' needs a number, e.g. 100.")
    return problems


def _lookup(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return _MISSING
        data = data[part]
    return data


def conditions_match(*, conditions: list[dict[str, Any]], payload: dict[str, Any], person: Person) -> bool:
    """All conditions hold. `traits.*` reads the person's merged traits (then the call's own)."""
    for condition in conditions:
        path = condition.get("path", "")
        value = _MISSING
        if path.startswith("traits."):
            value = _lookup(person.traits, path[len("traits.") :])
        if value is _MISSING:
            value = _lookup(payload, path)
        op = condition.get("op")
        if op == "exists":
            if value is _MISSING or value is None or value == "":
                return False
        elif op == "equals":
            if value is _MISSING or value != condition.get("value"):
                return False
        elif op == "in":
            if value is _MISSING or value not in condition.get("value", []):
                return False
        elif op in NUMERIC_OPERATORS:
            number, bound = _number(value), _number(condition.get("value"))
            if number is None or bound is None or (number < bound if op == "at_least" else number > bound):
                return False
        else:
            return False
    return True
