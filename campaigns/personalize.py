"""Personalization: `{{first_name}}`, `{{company}}`, any custom field, with a fallback
after a bar (`{{first_name|there}}`).

A message is rendered from one enrollment's own fields, at send time, by a pure
function of (text, fields): nothing is cached between leads, so one lead's data can
never reach another's message. A field with no value and no fallback renders as
nothing; the preview lists those enrollments beforehand (`missing_fields`).
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# {{ name }} or {{ name | fallback }}; names are letters, digits, _ and - (CSV headers).
_PLACEHOLDER = re.compile(r"\{\{\s*([\w-]+)\s*(?:\|([^}]*))?\}\}")


def render(text: str, fields: Mapping[str, object]) -> str:
    """`text` with each placeholder replaced by that lead's field, its fallback, or ""."""

    def value(match: re.Match) -> str:
        name, fallback = match.group(1), match.group(2)
        found = fields.get(name)
        if found is None or str(found).strip() == "":
            return (fallback or "").strip()
        return str(found).strip()

    return _PLACEHOLDER.sub(value, text)


def render_parameters(parameters, fields: Mapping[str, object]):
    """A template step's parameter mapping with every string value rendered."""
    if isinstance(parameters, str):
        return render(parameters, fields)
    if isinstance(parameters, Mapping):
        return {key: render_parameters(value, fields) for key, value in parameters.items()}
    if isinstance(parameters, list):
        return [render_parameters(value, fields) for value in parameters]
    return parameters


@dataclass(frozen=True)
class Placeholder:
    name: str
    has_fallback: bool


def placeholders(texts: Iterable) -> list[Placeholder]:
    """Every placeholder used in these texts (strings, or nested dicts/lists of them);
    a name used both with and without a fallback counts as needing a value."""
    found: dict[str, bool] = {}
    for text in _strings(texts):
        for match in _PLACEHOLDER.finditer(text):
            name, fallback = match.group(1), match.group(2)
            has_fallback = fallback is not None and fallback.strip() != ""
            found[name] = found.get(name, True) and has_fallback
    return [Placeholder(name, has_fallback) for name, has_fallback in found.items()]


def required_fields(texts: Iterable) -> list[str]:
    """The fields a lead must have for these texts to render without a hole."""
    return [p.name for p in placeholders(texts) if not p.has_fallback]


def missing_in(fields: Mapping[str, object], required: Iterable[str]) -> list[str]:
    return [
        name for name in required if fields.get(name) is None or str(fields.get(name)).strip() == ""
    ]


def _strings(items) -> Iterable[str]:
    if isinstance(items, str):
        yield items
    elif isinstance(items, Mapping):
        for value in items.values():
            yield from _strings(value)
    elif isinstance(items, Iterable):
        for value in items:
            yield from _strings(value)
