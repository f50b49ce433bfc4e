"""A trigger's conditions as rows of boxes (trait or field, operator, value) instead of a JSON box; the
rules they must follow are surveys/conditions.py's. Rows are added and removed by a small script
(surveys/static/surveys/conditions.js); without it a spare empty row is always there and a row is
removed by emptying its first box.

Values: numbers and true/false are matched as such, other text as text; text that looks like a number
is matched as text when written in quotes ("42"). "is one of" takes values separated by commas."""

import json
import re
from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from hub.cleaning import unstorable_problem
from surveys.conditions import OPERATOR_LABELS, conditions_problems

# One item of a comma-separated list: a quoted text (which may hold commas) or anything up to a comma.
_ITEM = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[^,]*?)\s*(?:,|$)')
_MAX_ROWS = 50


def value_parse(text: str) -> Any:
    """A typed value: 42, 4.5, true, false as such; "42" (quoted) and anything else as text."""
    text = text.strip()
    quoted = len(text) >= 2 and text[0] == text[-1] == '"'
    if text in ("true", "false") or quoted or re.fullmatch(r"-?\d+(\.\d+)?", text):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def value_show(value: Any) -> str:
    """The text that `value_parse` (or `values_parse`, for a list) reads back as `value`."""
    if isinstance(value, list):
        return ", ".join(
            json.dumps(item) if isinstance(item, str) and "," in item else value_show(item) for item in value
        )
    if isinstance(value, str):
        return json.dumps(value) if value_parse(value) != value else value
    return json.dumps(value)


def values_parse(text: str) -> list[Any]:
    items = [match.group(1) for match in _ITEM.finditer(text) if match.group(1)]
    return [value_parse(item) for item in items]


class ConditionsWidget(forms.Widget):
    """Rows of (path, operator, value) boxes; `<name>-rows` says how many rows were posted."""

    template_name = "admin/surveys/survey/conditions_widget.html"

    class Media:
        js = ["surveys/conditions.js"]

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        conditions = value if isinstance(value, list) else []
        rows = [
            {
                "path": condition.get("path", ""),
                "op": condition.get("op", "equals"),
                "value": "" if "value" not in condition else value_show(condition["value"]),
            }
            for condition in conditions
            if isinstance(condition, dict)
        ]
        rows.append({"path": "", "op": "equals", "value": ""})  # the spare row
        context = {"name": name, "rows": rows, "operators": OPERATOR_LABELS.items(), "count": len(rows)}
        return mark_safe(render_to_string(self.template_name, context))  # noqa: S308 - an escaped template

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        try:
            count = min(int(data.get(f"{name}-rows", "0")), _MAX_ROWS)
        except ValueError:
            count = 0
        rows = []
        for index in range(count):
            path = (data.get(f"{name}-{index}-path") or "").strip()
            if not path:
                continue  # an empty row (the spare one, or one emptied to remove it)
            op = data.get(f"{name}-{index}-op") or ""
            text = data.get(f"{name}-{index}-value") or ""
            condition: dict[str, Any] = {"path": path, "op": op}
            if op == "in":
                condition["value"] = values_parse(text)
            elif op != "exists":
                condition["value"] = value_parse(text)
            rows.append(condition)
        return rows

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-rows" not in data


class ConditionsField(forms.Field):
    """A trigger's conditions from the rows, checked by surveys/conditions.py."""

    widget = ConditionsWidget

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        return value if isinstance(value, list) else []

    def validate(self, value: Any) -> None:
        problems = conditions_problems(conditions=value)
        unstorable = unstorable_problem(value)
        if unstorable is not None:
            problems.append(unstorable)
        if problems:
            raise forms.ValidationError(problems)
