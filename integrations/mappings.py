"""Attribute mappings: the one place where a Segment call becomes the fields a destination expects.

Staff edit `MappingSet`/`MappingRule` rows in the admin (a rule's settings are checked by
`integrations.models.rule_errors`). `mapping_choose` chooses the set a connector applies to a call (the
destination's own, else the shipped preset for the call's target); `mapping_compile` turns a set into
a `CompiledMapping` once (paths split, spellings and transforms looked up); `mapping_compile_cached`
keeps it per (set id, updated_at); `mapping_apply` runs it on one call. Applying is pure and total:
no database, no exception; every rule that cannot be satisfied is reported in `problems`.

    mapping = mapping_choose(destination=destination, call_type="identify", targets=TARGETS)
    result = mapping_apply(mapping=mapping, call=event.payload)
    if result.problems: ...                     # the connector decides whether to send anyway

The input is a Segment call (`InboundEvent.payload`). Anything shaped like one works, e.g. a stored
person as `{"userId": person.external_id, "traits": person.traits}`.
"""

from __future__ import annotations

import json
import pathlib
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from hub.timeparse import parse_datetime
from integrations.models import Destination, MappingRule, MappingSet, rule_errors, rule_paths


class TransformError(Exception):
    """A value a transform cannot convert. The message completes "<rule>: <path> <value> ..."."""


# --- transforms: small pure functions, (value, options) -> value ---------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_PREFIX = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})")


def _datetime(value: Any) -> datetime:
    parsed = parse_datetime(value)
    if parsed is None:
        raise TransformError("is not a date")
    return parsed


def unix_seconds(value: Any, options: Mapping[str, Any]) -> int:
    """Whole unix seconds, rounded down (2023-11-14T22:13:20.600Z -> 1700000000)."""
    delta = _datetime(value) - _EPOCH  # timedelta keeps days/seconds floored, microseconds >= 0
    return delta.days * 86_400 + delta.seconds


def unix_seconds_rounded(value: Any, options: Mapping[str, Any]) -> int:
    """Unix seconds rounded half up to the nearest second, as Wootric's Math.round(ms / 1000)."""
    delta = _datetime(value) - _EPOCH
    return delta.days * 86_400 + delta.seconds + (delta.microseconds >= 500_000)


def iso_datetime(value: Any, options: Mapping[str, Any]) -> str:
    """ISO 8601 in UTC with milliseconds, as Segment writes it: 2023-11-14T22:13:20.600Z."""
    return _datetime(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_date(value: Any, options: Mapping[str, Any]) -> str:
    """YYYY-MM-DD. A written date is kept as written: a birthday "1990-05-17T00:00:00+02:00" stays
    the 17th instead of becoming the 16th in UTC."""
    parsed = _datetime(value)
    if isinstance(value, str) and (match := _DATE_PREFIX.match(value)):
        return date(*(int(part) for part in match.groups())).isoformat()
    return parsed.date().isoformat()


def string(value: Any, options: Mapping[str, Any]) -> str:
    """Text as JavaScript's String() writes it: 42 -> "42", 42.0 -> "42", true -> "true"."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    raise TransformError("is not text or a number")


def lower(value: Any, options: Mapping[str, Any]) -> str:
    return string(value, options).lower()


def lookup(value: Any, options: Mapping[str, Any]) -> Any:
    """The table's value for this one, case-insensitively; "nl-BE" falls back to "nl"."""
    table = options["table"]  # lower-cased keys, from _options_prepare
    key = string(value, options).strip().lower()
    if key in table:
        return table[key]
    primary = re.split(r"[-_]", key, maxsplit=1)[0]
    if primary in table:
        return table[primary]
    raise TransformError("is not in the lookup table")


Transform = Callable[[Any, Mapping[str, Any]], Any]

# Keyed by MappingRule.Transform's values; "" (none) passes the value on as sent.
TRANSFORMS: dict[str, Transform] = {
    "unix_seconds": unix_seconds,
    "unix_seconds_rounded": unix_seconds_rounded,
    "iso_datetime": iso_datetime,
    "iso_date": iso_date,
    "string": string,
    "lower": lower,
    "lookup": lookup,
}


def _options_prepare(transform: str, options: Mapping[str, Any]) -> Mapping[str, Any]:
    if transform == "lookup":
        return {"table": {str(k).strip().lower(): v for k, v in options["table"].items()}}
    return options


# --- rules: validation and compilation ------------------------------------------------------------


def _spellings(key: str) -> tuple[str, ...]:
    """The key as written, then its other spelling: Segment traits come camelCase or snake_case
    (firstName / first_name, createdAt / created_at, postalCode / postal_code)."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "_" + m.group(1).lower(), key)
    camel = re.sub(r"(?<=[a-z0-9])_([a-z])", lambda m: m.group(1).upper(), key)
    other = snake if snake != key else camel
    return (key,) if other == key else (key, other)


class RuleLike(Protocol):
    """A MappingRule, saved or not (the admin compiles a form's rules before saving them)."""

    source_paths: str
    target: str
    transform: str
    options: Any
    default: Any
    required: bool


# A path is a tuple of steps; a step is the spellings of one key.
Path = tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    target: str
    target_path: tuple[str, ...]
    sources: tuple[tuple[str, Path], ...]  # (path as staff wrote it, compiled path)
    transform: Transform | None
    options: Mapping[str, Any]
    default: Any  # None: no default
    required: bool
    error: str = ""  # a misconfigured rule reports this instead of mapping


@dataclass(frozen=True, slots=True)
class CompiledMapping:
    name: str
    call_types: frozenset[str]
    rules: tuple[CompiledRule, ...]


@dataclass(slots=True)
class MappingResult:
    output: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rule_compile(rule: RuleLike) -> CompiledRule:
    target = rule.target.strip()
    errors = rule_errors(
        source_paths=rule.source_paths,
        target=target,
        transform=rule.transform,
        options=rule.options,
    )
    error = " ".join(message for messages in errors.values() for message in messages)
    sources = tuple(
        (path, tuple(_spellings(part) for part in path.split("."))) for path in rule_paths(rule.source_paths)
    )
    return CompiledRule(
        target=target,
        target_path=target_path(target),
        sources=sources,
        transform=TRANSFORMS.get(rule.transform) if rule.transform and not error else None,
        options=_options_prepare(rule.transform, rule.options) if not error else {},
        default=rule.default,
        required=rule.required,
        error=error,
    )


def target_path(target: str) -> tuple[str, ...]:
    """A target as the steps it writes: "keyValues.team" writes team inside keyValues."""
    return tuple(part.strip() for part in target.strip().split("."))


def target_clash(path: tuple[str, ...], taken: Mapping[tuple[str, ...], str]) -> str | None:
    """The target among `taken` that a rule writing `path` would clash with: two rules may not write
    the same field, nor one a field and the other inside it (a / a.b). None: no clash."""
    return next(
        (
            target
            for other, target in taken.items()
            if other[: len(path)] == path or path[: len(other)] == other
        ),
        None,
    )


def _conflicts_mark(rules: list[CompiledRule]) -> list[CompiledRule]:
    seen: dict[tuple[str, ...], str] = {}
    marked = []
    for rule in rules:
        clash = target_clash(rule.target_path, seen)
        if clash is not None and not rule.error:
            rule = CompiledRule(**{**_fields(rule), "error": f"the target field clashes with {clash}"})
        seen.setdefault(rule.target_path, rule.target)
        marked.append(rule)
    return marked


def _fields(rule: CompiledRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in CompiledRule.__dataclass_fields__}


def mapping_compile(*, mapping_set: MappingSet, rules: Iterable[RuleLike] | None = None) -> CompiledMapping:
    """Compile a set's rules (or the given unsaved ones) once; the result is immutable and shareable."""
    compiled = [_rule_compile(rule) for rule in (mapping_set.rules.all() if rules is None else rules)]
    return CompiledMapping(
        name=mapping_set.name,
        call_types=frozenset(mapping_set.call_types or ()),
        rules=tuple(_conflicts_mark(compiled)),
    )


def mapping_rules_save(*, rules: Iterable[MappingRule], deleted: Iterable[MappingRule], after: int) -> None:
    """Save a set's edited rules and delete the removed ones. A new rule without a position goes after
    the others (`after`: the highest position among them), ten apart so one fits in between later."""
    for rule in rules:
        if rule.pk is None and not rule.position:
            after += 10
            rule.position = after
        rule.save()
    for rule in deleted:
        rule.delete()


_cache: dict[int, tuple[datetime, CompiledMapping]] = {}


def mapping_compile_cached(*, mapping_set: MappingSet) -> CompiledMapping:
    """The compiled set, compiled again only when the set or a rule changed (updated_at moves)."""
    cached = _cache.get(mapping_set.pk)
    if cached is not None and cached[0] == mapping_set.updated_at:
        return cached[1]
    compiled = mapping_compile(mapping_set=mapping_set)
    _cache[mapping_set.pk] = (mapping_set.updated_at, compiled)
    return compiled


# --- applying ---------------------------------------------------------------------------------------


def _resolve(node: Any, path: Path) -> Any:
    """The value at path, or None. A null or absent key falls back to the key's other spelling."""
    for keys in path:
        if isinstance(node, dict):
            for key in keys:
                value = node.get(key)
                if value is not None:
                    break
            else:
                return None
            node = value
        elif isinstance(node, list) and keys[0].isdigit():
            index = int(keys[0])
            if index >= len(node):
                return None
            node = node[index]
        else:
            return None
    return node


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return (isinstance(value, list | dict)) and not value


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"'{text}'" if isinstance(value, str) else text


def mapping_apply(*, mapping: CompiledMapping, call: Mapping[str, Any]) -> MappingResult:
    """Map one Segment call. Absent optional values are left out; a default fills in for an absent or
    unusable value; a missing required value, or a value a transform cannot convert, is a problem."""
    result = MappingResult()
    output, problems = result.output, result.problems
    if not isinstance(call, dict):
        if not isinstance(call, Mapping):
            problems.append('a Segment call is a JSON object, e.g. {"type": "identify", "traits": {}}')
            return result
        call = dict(call)
    call_type = call.get("type")
    if mapping.call_types and isinstance(call_type, str) and call_type not in mapping.call_types:
        problems.append(
            f"this mapping is for {', '.join(sorted(mapping.call_types))} calls, not {call_type} calls"
        )
    for rule in mapping.rules:
        if rule.error:
            problems.append(f"{rule.target}: {rule.error}")
            continue
        value: Any = None
        label = ""
        for source, path in rule.sources:
            candidate = _resolve(call, path)
            if not _empty(candidate):
                value, label = candidate, source
                break
        if value is not None and rule.transform is not None:
            try:
                value = rule.transform(value, rule.options)
            except TransformError as exc:
                problems.append(f"{rule.target}: {label} {_shown(value)} {exc}")
                value = rule.default
            except Exception as exc:  # a transform bug must not lose the other fields of the call
                problems.append(f"{rule.target}: {label} {_shown(value)} could not be converted ({exc!r})")
                value = rule.default
            if value is None:
                continue
        if value is None:
            value = rule.default
            if value is None:
                if rule.required:
                    where = " or ".join(label for label, _ in rule.sources)
                    problems.append(f"{rule.target}: required, but the call has no {where}")
                continue
        if len(rule.target_path) == 1:
            output[rule.target] = value
        else:
            node = output
            for part in rule.target_path[:-1]:
                node = node.setdefault(part, {})
            node[rule.target_path[-1]] = value
    return result


# --- choosing: which mapping a connector applies to a call ------------------------------------------

# A shipped preset edited in the admin applies to new deliveries within this many seconds (the
# destination's own mapping set, loaded with the destination, applies at once).
PRESET_CACHE_SECONDS = 10.0
_presets: dict[str, tuple[float, MappingSet | None]] = {}


def preset_get(*, target: str) -> MappingSet | None:
    """The mapping set for `target` (e.g. "customersuccessbox.user"): the shipped preset, else the
    oldest set staff made for it. Cached briefly, so a batch does not query it once per event."""
    cached = _presets.get(target)
    if cached is not None and time.monotonic() - cached[0] < PRESET_CACHE_SECONDS:
        return cached[1]
    found = MappingSet.objects.filter(target=target).order_by("-is_preset", "pk").first()
    _presets[target] = (time.monotonic(), found)
    return found


def presets_forget() -> None:
    _presets.clear()


def mapping_choose(
    *, destination: Destination, call_type: str, targets: Mapping[str, str]
) -> CompiledMapping | None:
    """The mapping a connector applies to one call. `targets` are the connector's preset targets by
    call type, e.g. {"identify": "customersuccessbox.user", "group": "customersuccessbox.account"}.

    The destination's own attribute mapping wins when it is meant for this call: the connector has
    one target (Hello Customer: respondents, for any call), or the set's call types include this
    call's, or the set's target is this call's target. Otherwise the shipped preset for the call's
    target applies (staff pick no mapping at all for CustomerSuccessBox and get the three presets);
    None when there is none.
    """
    target = targets.get(call_type)
    own = destination.mapping_set
    if own is not None and (
        len(set(targets.values())) == 1 or call_type in (own.call_types or []) or own.target == target
    ):
        return mapping_compile_cached(mapping_set=own)
    if target is None:
        return None
    preset = preset_get(target=target)
    return mapping_compile_cached(mapping_set=preset) if preset is not None else None


# --- "Try it": staff paste a call and see what a set makes of it ----------------------------------------

# One call of each type, carrying the traits the shipped presets read.
SAMPLE_CALLS = pathlib.Path(__file__).resolve().parent / "fixtures" / "sample_calls"


def mapping_sample_call(*, call_types: Iterable[str]) -> str:
    """What "Try it" starts from: the sample call (JSON text) of the set's first call type, or an
    identify call when there is no sample of that type."""
    samples = {path.stem: path for path in SAMPLE_CALLS.glob("*.json")}
    sample = samples.get(next(iter(call_types), "identify"), samples["identify"])
    return sample.read_text().rstrip("\n")


def call_parse(text: str) -> tuple[dict[str, Any] | None, str]:
    """The pasted call, or why it cannot be mapped (in words a person can act on)."""
    try:
        call = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"Invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}."
    if isinstance(call, dict) and isinstance(call.get("batch"), list):
        return None, 'This is a batch: paste one of the calls inside its "batch" list.'
    if not isinstance(call, dict):
        return (
            None,
            'A Segment call is a JSON object, e.g. {"type": "identify", "userId": "u1", "traits": {}}.',
        )
    return call, ""


@dataclass(frozen=True, slots=True)
class MappingTry:
    """What a set made of a pasted call: why the text is not one (`error`), or the mapping's result."""

    error: str = ""
    result: MappingResult | None = None


def mapping_try(*, mapping_set: MappingSet, text: str) -> MappingTry:
    """Map a call staff pasted with the set's saved rules (nothing is stored or sent)."""
    call, error = call_parse(text)
    if call is None:
        return MappingTry(error=error)
    return MappingTry(result=mapping_apply(mapping=mapping_compile(mapping_set=mapping_set), call=call))
