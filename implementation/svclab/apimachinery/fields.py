"""Field selectors, parsed and matched as upstream ``k8s.io/apimachinery/pkg/fields`` does (pure).

A *field selector* (``?fieldSelector=``) is a comma-separated AND of
``field=value``, ``field==value`` or ``field!=value``; ``\\,`` ``\\=`` and ``\\\\``
escape inside values. Terms are sorted before parsing, as upstream sorts them,
so ``str()`` gives the canonical form.

A selector matches a *field set*: the selectable fields of one object as
strings (upstream ``fields.Set``); a field the set lacks reads as "". Which
fields a kind can be selected by, and how each reads from an object, is not
this module's business: the API server has upstream's per-kind tables and
narrows a parsed selector to them with :meth:`FieldSelector.transform`, while
the fake client reads any dotted path with :func:`read_field`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .selection import SelectorError

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "format_field_value",
    "parse_field_selector",
    "read_field",
]


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """``field=value`` (or ``field!=value`` when ``negated``) on one selectable field."""

    field: str
    value: str
    negated: bool = False

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) != self.negated

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")
        return f"{self.field}{'!=' if self.negated else '='}{escaped}"


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """An AND of field requirements. No requirements = everything."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.requirements

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the requirements name, in order (a field may repeat)."""
        return tuple(requirement.field for requirement in self.requirements)

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Whether an object with these selectable ``fields`` is selected."""
        return all(requirement.matches(fields) for requirement in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must have (``field=value``), else None (upstream ``RequiresExactMatch``).

        Lets a server answer ``metadata.name=X`` from one key instead of a scan.
        """
        for requirement in self.requirements:
            if requirement.field == field and not requirement.negated:
                return requirement.value
        return None

    def transform(self, rename: Callable[[str, str], tuple[str, str]]) -> FieldSelector:
        """A copy with each ``(field, value)`` replaced by ``rename(field, value)``.

        Upstream ``Transform``, with which a server maps the fields a client
        named onto the ones it stores; ``rename`` raises :class:`SelectorError`
        for a field it does not support.
        """
        renamed = []
        for requirement in self.requirements:
            field, value = rename(requirement.field, requirement.value)
            renamed.append(FieldRequirement(field, value, requirement.negated))
        return FieldSelector(tuple(renamed))

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped (escapes are kept)."""
    terms, start, escaped = [], 0, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            terms.append(text[start:index])
            start = index + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # At each position try "!=", then "==", then "=", as upstream's splitTerm does.
    for index in range(len(term)):
        for operator in ("!=", "==", "="):
            if term.startswith(operator, index):
                return term[:index], operator, term[index + len(operator) :]
    return None


def _unescape(value: str) -> str:
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            # Upstream prints the rune with %v, i.e. its code point.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a field selector; "" selects everything. Side-effect-free.

    Raises SelectorError with upstream's text for a term that does not parse.
    Any field name parses: narrowing to a kind's fields is the caller's.
    """
    requirements: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)) if text else []:
        if not term:
            continue
        parts = _split_term(term)
        if parts is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, operator, raw_value = parts
        requirements.append(FieldRequirement(field, _unescape(raw_value), negated=operator == "!="))
    return FieldSelector(tuple(requirements))


def format_field_value(value: Any) -> str:
    """A JSON value as a selectable field reads: Go's formatting, absent = ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_field(obj: Mapping[str, Any], path: str) -> str:
    """The dotted ``path`` (``spec.nodeName``) of a JSON object, as a field selector reads it."""
    value: Any = obj
    for key in path.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return format_field_value(value)
