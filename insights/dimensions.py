"""What a report can break answers down by, and filter them on: each dimension's SQL expression on
`surveys.Response`, its filter, and the labels staff read.

Dimensions are named as in the API's query parameters and the admin's links:
- `source`: the person's source (its id), `account`: an account of the person (its id; a person in
  two accounts counts in both), `language`: the answer's language, `channel`: what brought the
  invitation (a collector, or a trigger's call type and event: `<source id>:<type>:<event>`);
- `trait:<name>`: any trait of the person (`trait:plan`, `trait:country`), `tag:<name>`: the answer's
  rating of a tag (`tag:Support`).
Values are strings; a cell with no value (no such trait, an erased person) is `None`.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import (
    Case,
    CharField,
    Exists,
    Expression,
    F,
    OuterRef,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Concat

from customers.models import Account, Membership
from hub.cleaning import clean_text, parse_id, text_unstorable
from integrations.models import Source
from surveys.models import Collector, Invitation, Response

FIXED = ("source", "account", "language", "channel")
PREFIXED = ("trait:", "tag:")
NAME_MAX = 200
NONE_LABEL = "(none)"
# What filters apply to: answers, or invitations (for the response rate).
Rows = TypeVar("Rows", Response, Invitation)


class ReportQueryInvalid(ValueError):
    """A dimension or a filter value the report cannot use; the message says why, for people."""


@dataclass(frozen=True)
class Dimension:
    name: str  # "source", "trait:plan", ...

    @property
    def title(self) -> str:
        for prefix in PREFIXED:
            if self.name.startswith(prefix):
                return f"{prefix[:-1]} {self.name[len(prefix) :]}"
        return self.name

    @property
    def key(self) -> str:
        """The part after `trait:` / `tag:`."""
        return self.name.split(":", 1)[1] if ":" in self.name else ""


def _id(value: str) -> int:
    """A filter's id (checked by `filters_parse`); 0, which no row has, for anything else."""
    return parse_id(value) or 0


def dimension_parse(name: object) -> Dimension:
    if not isinstance(name, str) or not name or len(name) > NAME_MAX or text_unstorable(name):
        raise ReportQueryInvalid("A dimension is a short text such as 'source' or 'trait:plan'.")
    if name in FIXED:
        return Dimension(name)
    for prefix in PREFIXED:
        if name.startswith(prefix) and name[len(prefix) :].strip():
            return Dimension(prefix + clean_text(name[len(prefix) :]))
    raise ReportQueryInvalid(
        f"Unknown dimension {name[:60]!r}: use {', '.join(FIXED)}, trait:<name> or tag:<name>."
    )


def is_dimension(name: str) -> bool:
    return name in FIXED or any(name.startswith(prefix) and len(name) > len(prefix) for prefix in PREFIXED)


def expression(dimension: Dimension) -> Expression | F:
    """The value of `dimension` for each answer, as text (None when it has none)."""
    if dimension.name == "source":
        return Cast("person__source_id", CharField())
    if dimension.name == "account":
        return Cast("person__memberships__account_id", CharField())
    if dimension.name == "language":
        return F("language")
    if dimension.name == "channel":
        event = "invitation__trigger_event__"
        named = Concat(
            Cast(f"{event}source_id", CharField()),
            Value(":"),
            F(f"{event}type"),
            Value(":"),
            F(f"{event}event"),
            output_field=CharField(),
        )
        # No trigger event (sent by hand, or the event was erased): no channel, not "::".
        return Case(When(invitation__trigger_event__isnull=True, then=Value(None)), default=named)
    # As text (a Cast): compared with a filter's value as text, not as JSON.
    if dimension.name.startswith("trait:"):
        return Cast(KeyTextTransform(dimension.key, "person__traits"), TextField())
    return Cast(KeyTextTransform(dimension.key, "tag_ratings"), TextField())


def filters_parse(query: Mapping[str, object]) -> dict[str, str]:
    """{dimension: value} from query parameters (other parameters are not filters), checked."""
    filters: dict[str, str] = {}
    for name, value in query.items():
        if not is_dimension(name):
            continue
        dimension = dimension_parse(name)
        if not isinstance(value, str) or len(value) > NAME_MAX or text_unstorable(value):
            raise ReportQueryInvalid(f"The filter {name[:60]!r} needs a short text value.")
        if dimension.name in ("source", "account") and parse_id(value) is None:
            raise ReportQueryInvalid(f"The filter {name!r} takes an id (digits).")
        if dimension.name == "channel" and len(value.split(":", 2)) != 3:
            raise ReportQueryInvalid("The filter 'channel' takes '<source id>:<call type>:<event>'.")
        filters[dimension.name] = value
    return filters


def _filtered(rows: QuerySet[Rows], filters: Mapping[str, str], *, event: str) -> QuerySet[Rows]:
    """`rows` (answers or invitations) whose value of each dimension equals the filter's; `event` is
    the path from a row to its invitation's trigger event."""
    for name, value in filters.items():
        dimension = dimension_parse(name)
        if dimension.name == "account":
            rows = rows.filter(
                Exists(Membership.objects.filter(person_id=OuterRef("person_id"), account_id=_id(value)))
            )
        elif dimension.name == "channel":
            source_id, call_type, event_name = value.split(":", 2)
            rows = rows.filter(
                **{
                    f"{event}source_id": _id(source_id),
                    f"{event}type": call_type,
                    f"{event}event": event_name,
                }
            )
        elif dimension.name == "source":
            rows = rows.filter(person__source_id=_id(value))
        else:  # language, trait:<name>, tag:<name>: the dimension's expression
            alias = f"filter_{len(rows.query.annotations)}"
            rows = rows.alias(**{alias: expression(dimension)}).filter(**{alias: value})
    return rows


def filters_about_people(filters: Mapping[str, str]) -> bool:
    """Whether every filter is about the person (source, account, trait), so that it keeps all of a
    person's answers or none: a person's latest matching answer is then their latest answer."""
    names = [dimension_parse(name).name for name in filters]
    return all(name in ("source", "account") or name.startswith("trait:") for name in names)


def filters_apply(answers: QuerySet[Response], filters: Mapping[str, str]) -> QuerySet[Response]:
    """`answers` whose value of each dimension equals the filter's."""
    return _filtered(answers, filters, event="invitation__trigger_event__")


def filters_invitations(
    invitations: QuerySet[Invitation], filters: Mapping[str, str]
) -> QuerySet[Invitation] | None:
    """The same filters on invitations (for the response rate); None when one cannot apply to an
    invitation (a tag rating exists only on answers)."""
    if any(dimension_parse(name).name.startswith("tag:") for name in filters):
        return None
    return _filtered(invitations, filters, event="trigger_event__")


def labels(dimension: Dimension, values: Iterable[str | None]) -> dict[str | None, str]:
    """{value: what staff read}: a source's or an account's name, a collector's name, the value."""
    values = list(values)
    shown: dict[str | None, str] = {value: value or NONE_LABEL for value in values}
    ids = [pk for value in values if value and (pk := parse_id(value)) is not None]
    if dimension.name == "source":
        for pk, name in Source.objects.filter(pk__in=ids).values_list("pk", "name"):
            shown[str(pk)] = name
    elif dimension.name == "account":
        for pk, name, group_id in Account.objects.filter(pk__in=ids).values_list("pk", "name", "group_id"):
            shown[str(pk)] = name or group_id
    elif dimension.name == "channel":
        sources = {value: value.split(":", 2) for value in values if value}
        collectors: dict[int, list[str]] = {}
        source_ids = {_id(parts[0]) for parts in sources.values()}
        for source_id, name in Collector.objects.filter(source_id__in=source_ids).values_list(
            "source_id", "name"
        ):
            collectors.setdefault(source_id, []).append(name)
        for value, (source, call_type, event) in sources.items():
            names = collectors.get(_id(source))
            shown[value] = (
                f"collector: {', '.join(sorted(names))}" if names else f"{call_type} {event}".strip()
            )
    return shown
